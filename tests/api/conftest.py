"""Fixtures for API tests: two stores, keys with different scopes, and clients that send them.
Rate-limit counters go to the test Redis database (when there is one), like the broker."""

import pytest
from api_clients import key_client

from chatbot.stores.models import Store


@pytest.fixture(autouse=True)
def api_cache(test_redis, settings):
    if test_redis:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": test_redis,
                "KEY_PREFIX": "test-api",
            }
        }


@pytest.fixture
def store(transactional_db):
    return Store.objects.create(name="Rain Gear", slug="rain-gear", hourly_price="3.60")


@pytest.fixture
def other_store(transactional_db):
    return Store.objects.create(name="Sun Gear", slug="sun-gear")


@pytest.fixture
def api(store):
    """A read + write client of `store`."""
    return key_client(store, "read", "write")


@pytest.fixture
def reader(store):
    return key_client(store, "read")


@pytest.fixture
def other_api(other_store):
    return key_client(other_store, "read", "write")
