"""Shared fixtures. With REDIS_URL set (CI: .ci/run) the web tests use the production wiring, on a
Redis database of their own (TEST_REDIS_URL, default: REDIS_URL's server, database 15) so they never
touch a live queue; without it they use the in-process channel layer and broker."""

import os
import urllib.parse

# Triton reads this when a kernel is decorated: set it before any test imports `kernels`, so the
# kernels run through the interpreter on the CPU (no GPU on developer or CI machines).
os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest


def _test_redis_url() -> str:
    if os.environ.get("TEST_REDIS_URL"):
        return os.environ["TEST_REDIS_URL"]
    base = os.environ.get("REDIS_URL", "")
    if not base:
        return ""
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(base)._replace(path="/15"))


TEST_REDIS_URL = _test_redis_url()


@pytest.fixture(scope="session", autouse=True)
def test_redis():
    """Point the channel layer and Celery at the empty test Redis database (if any)."""
    if not TEST_REDIS_URL:
        yield ""
        return
    import redis
    from django.test import override_settings

    from chatbot.celery import app
    from chatbot.settings import channel_layers

    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    app.conf.update(broker_url=TEST_REDIS_URL, result_backend=TEST_REDIS_URL)
    with override_settings(CHANNEL_LAYERS=channel_layers(TEST_REDIS_URL)):
        yield TEST_REDIS_URL


def pytest_collection_modifyitems(config, items):
    """Tests on the live product run last. Its worker consumes the `gpu` queue of the test Redis,
    which the in-process tests inspect, and answers what they leave queued."""
    items.sort(key=lambda item: "live_stack" in getattr(item, "fixturenames", ()))
