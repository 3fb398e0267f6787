"""Shared fixtures. With REDIS_URL set (CI: .ci/run) the web tests use the production wiring, on a
Redis database of their own (TEST_REDIS_URL, default: REDIS_URL's server, database 15) so they never
touch a live queue; without it they use the in-process channel layer and broker.

Also the fixtures several directories use: the product running in child processes (live_stack,
see live_stack.py), a Celery worker in a thread (webhook_worker) and Debian's Chromium (browser)."""

import os
import sys
import urllib.parse
from pathlib import Path

# Triton reads this when a kernel is decorated: set it before any test imports `kernels`, so the
# kernels run through the interpreter on the CPU (no GPU on developer or CI machines).
os.environ.setdefault("TRITON_INTERPRET", "1")
# Webhook receivers and order services in tests listen on 127.0.0.1, which the product refuses to
# call by default: child processes of the live stack inherit this, this process gets the
# `private_networks` fixture (tests/integrations/test_private_networks.py turns it back off).
os.environ["INTEGRATIONS_ALLOW_PRIVATE_NETWORKS"] = "1"
# This process signs with the development key (settings see pytest); so do the processes it starts.
os.environ.setdefault("PARLEY_DEV", "1")

import pytest
from live_stack import database_url_of, start_stack


def _test_redis_url() -> str:
    if os.environ.get("TEST_REDIS_URL"):
        return os.environ["TEST_REDIS_URL"]
    base = os.environ.get("REDIS_URL", "")
    if not base:
        return ""
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(base)._replace(path="/15"))


TEST_REDIS_URL = _test_redis_url()

REPO = Path(__file__).resolve().parent.parent


def repo_root_on_path() -> bool:
    """Whether ``import kernels`` finds the repository's own package first (``python -m pytest``
    from the checkout, or pytest-django adding manage.py's folder)."""
    return any(Path(entry or os.getcwd()).resolve() == REPO for entry in sys.path)


# tests/oracle imports `transformers`, which imports the PyPI package `kernels`: it runs in a pytest
# process of its own that cannot see our kernels/ (see tests/oracle/conftest.py; `make test` runs both).
collect_ignore = ["oracle"] if repo_root_on_path() else []


def pytest_report_header(config):
    if collect_ignore:
        return "tests/oracle not collected here: cd tests/oracle && ../../.venv/bin/pytest -o django_find_project=false"


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


@pytest.fixture(scope="session", autouse=True)
def private_networks():
    from django.test import override_settings

    with override_settings(INTEGRATIONS_ALLOW_PRIVATE_NETWORKS=True):
        yield


def pytest_collection_modifyitems(config, items):
    """Tests on the live product run last. Its worker consumes the `gpu` queue of the test Redis,
    which the in-process tests inspect, and answers what they leave queued."""
    items.sort(key=lambda item: "live_stack" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def database_url(django_db_setup, django_db_blocker) -> str:
    """pytest-django's test database as a DATABASE_URL for child processes."""
    from django.db import connection

    return database_url_of(connection.settings_dict)


@pytest.fixture(scope="session")
def live_stack(database_url, test_redis, tmp_path_factory):
    """The production wiring when a test Redis is configured, else the embedded server. One per
    test session."""
    stack = start_stack(database_url, test_redis, tmp_path_factory.mktemp("processes"))
    yield stack
    stack.stop()


@pytest.fixture
def live_store(transactional_db, live_stack):
    from chatbot.stores.models import Store

    return Store.objects.create(
        name="Live Test Shop",
        slug="live-test-shop",
        allowed_origins=[live_stack.origin],
        system_prompt="You are the assistant of a small rain-gear shop. Answer in one sentence.",
    )


@pytest.fixture
def webhook_worker(transactional_db):
    """A real worker on the default queue. It serves webhooks only, so it loads no engine."""
    from thread_worker import default_queue_worker

    with default_queue_worker(concurrency=2) as controller:
        yield controller


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
    """The demo shop's store (`make run` seeds it): the page at / of a running server embeds its
    widget."""
    from django.core.management import call_command

    from chatbot.shop import demo
    from chatbot.stores.models import Store

    call_command("seed_demo")
    return Store.objects.get(slug=demo.SLUG)


@pytest.fixture
def live_demo_store(demo_store, live_stack):
    """The demo store, its widget allowed on the pages of the live stack."""
    demo_store.allowed_origins.append(live_stack.origin)
    demo_store.save()
    return demo_store
