"""Fixtures for integration tests: a store with its integration settings. The Celery worker in a
thread that delivers webhooks (webhook_worker) is a shared fixture of tests/conftest.py."""

import pytest

from chatbot.integrations.models import StoreIntegration
from chatbot.stores.models import Store


@pytest.fixture
def store(transactional_db):
    return Store.objects.create(name="Rain Gear", slug="rain-gear")


@pytest.fixture
def integration(store):
    return StoreIntegration.objects.create(store=store)
