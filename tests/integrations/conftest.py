"""Fixtures for integration tests: a store with its integration settings, and a Celery worker in a
thread consuming the default queue (where webhook deliveries go) from the test broker."""

import threading

import pytest
from celery.signals import worker_init
from celery.worker import WorkController

from chatbot import celery as celery_app
from chatbot.integrations.models import StoreIntegration
from chatbot.stores.models import Store


@pytest.fixture
def store(transactional_db):
    return Store.objects.create(name="Rain Gear", slug="rain-gear")


@pytest.fixture
def integration(store):
    return StoreIntegration.objects.create(store=store)


@pytest.fixture
def webhook_worker(transactional_db):
    """A real worker on the default queue. It serves webhooks only, so it loads no engine."""
    app = celery_app.app
    ready = threading.Event()
    worker_init.disconnect(celery_app._load_engine)
    try:
        controller = WorkController(
            app=app,
            pool_cls="threads",
            concurrency=2,
            queues=[app.conf.task_default_queue],
            loglevel="WARNING",
            ready_callback=lambda *args: ready.set(),
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
    finally:
        worker_init.connect(celery_app._load_engine)
    thread = threading.Thread(target=controller.start, daemon=True)
    thread.start()
    assert ready.wait(30), "the webhook worker did not start"
    yield controller
    controller.stop()
    thread.join(10)
