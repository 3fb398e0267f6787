"""Fixtures for fault and hostile-input tests. The running-product fixtures of tests/e2e (live_stack,
database_url, live_store), the webhook worker of tests/integrations and the in-process socket client
of tests/web are reused, not copied."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
# Helper modules: processes and live_chat (e2e), socket_client (web), local_http (integrations).
sys.path[:0] = [str(TESTS / "e2e"), str(TESTS / "web"), str(TESTS / "integrations")]


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
def demo_store(transactional_db, live_stack):
    """The demo shop's store (its page embeds the widget), open to the live stack's origin."""
    from django.core.management import call_command

    from chatbot.shop import demo

    call_command("seed_demo")
    store = Store.objects.get(slug=demo.SLUG)
    store.allowed_origins.append(live_stack.origin)
    store.save()
    return store
