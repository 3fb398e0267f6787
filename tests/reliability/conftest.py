"""Fixtures for fault and hostile-input tests. The running-product fixtures of tests/e2e (live_stack,
database_url, live_store), the webhook worker of tests/integrations and the in-process socket client
of tests/web are reused, not copied."""

import importlib.util
import os
import signal
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
# Helper modules: processes and live_chat (e2e), socket_client (web), local_http (integrations),
# dashboard_staff and dashboard_sockets (dashboard).
sys.path[:0] = [str(TESTS / d) for d in ("e2e", "web", "integrations", "dashboard")]


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, TESTS / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_e2e = _load("e2e/conftest.py", "e2e_fixtures_for_reliability")
database_url = _e2e.database_url
live_stack = _e2e.live_stack
live_store = _e2e.live_store
Stack = _e2e.Stack
child_env = _e2e.child_env
webhook_worker = _load(
    "integrations/conftest.py", "integration_fixtures_for_reliability"
).webhook_worker

from processes import Process, free_port  # noqa: E402
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


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    # Playwright's sync API keeps an event loop running in this thread, which Django's ORM would
    # take for async code; the tests' own ORM calls are plain sequential ones.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def demo_store(transactional_db):
    """The demo shop's store: the page at / of a running server embeds its widget."""
    from django.core.management import call_command

    from chatbot.shop import demo

    call_command("seed_demo")
    return Store.objects.get(slug=demo.SLUG)


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
