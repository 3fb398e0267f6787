"""Fixtures for socket and service tests."""

import pytest
from channels.layers import channel_layers
from socket_client import ORIGIN

from chatbot.stores.models import Store


@pytest.fixture
def store(transactional_db):
    return Store.objects.create(
        name="Test Shop", slug="test-shop", allowed_origins=[ORIGIN], system_prompt="Be brief."
    )


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """A channel layer per test: layers hold asyncio state of the loop that first used them, and
    every async test runs on a loop of its own."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
