"""Fixtures for socket and service tests."""

import pytest
from socket_client import ORIGIN

from chatbot.stores.models import Store


@pytest.fixture
def store(transactional_db):
    return Store.objects.create(
        name="Test Shop", slug="test-shop", allowed_origins=[ORIGIN], system_prompt="Be brief."
    )
