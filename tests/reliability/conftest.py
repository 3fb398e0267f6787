"""Fixtures for fault and hostile-input tests. The running-product fixtures (live_stack,
database_url, live_store), the webhook worker and Chromium (browser, demo_store) are the shared ones
of tests/conftest.py; the in-process socket client of tests/web is reused, not copied."""

import os
import signal
import sys
from pathlib import Path

import pytest
from live_stack import Stack, child_env
from processes import Process, free_port

TESTS = Path(__file__).resolve().parents[1]
# Helper modules: live_chat (e2e), socket_client (web), dashboard_staff and dashboard_sockets
# (dashboard).
sys.path[:0] = [str(TESTS / d) for d in ("e2e", "web", "dashboard")]

from socket_client import ORIGIN  # noqa: E402

from chatbot.stores.models import Store  # noqa: E402


@pytest.fixture
def store(transactional_db):
    return Store.objects.create(
        name="Test Shop", slug="test-shop", allowed_origins=[ORIGIN], system_prompt="Be brief."
    )


@pytest.fixture
def other_store(transactional_db):
    return Store.objects.create(name="Other Shop", slug="other-shop", allowed_origins=[ORIGIN])


class RedisServer:
    """A Redis server of a test's own on a free port, without persistence: restarting it is a
    restart from empty, and the shared server on 6379 is never touched."""

    def __init__(self, log_dir):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_dir = log_dir
        self.process: Process | None = None

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no"]
        self.process = Process("redis", args, dict(os.environ), self.log_dir)
        self.process.wait_for_log("Ready to accept connections", 30)

    def crash(self) -> None:
        self.process.stop(signal.SIGKILL)


@pytest.fixture
def own_redis_stack(tmp_path, database_url, test_redis):
    """uvicorn and a worker as in production, on a Redis server of their own: (stack, redis)."""
    if not test_redis:
        pytest.skip("needs the production wiring (REDIS_URL)")
    redis = RedisServer(tmp_path)
    redis.start()
    stack = Stack(child_env(database_url, redis.url), tmp_path, embedded=False)
    try:
        stack.start_worker()
        stack.start_web()
        yield stack, redis
    finally:
        stack.stop()
        redis.crash()
