"""A real Celery worker in a thread of the test process, consuming the default queue of the test
broker: where webhook deliveries and the knowledge domain's indexing tasks run. It loads no
engine (it does not reply)."""

import contextlib
import threading

from celery.signals import worker_init
from celery.worker import WorkController

from chatbot import celery as celery_app


@contextlib.contextmanager
def default_queue_worker(concurrency: int):
    app = celery_app.app
    ready = threading.Event()
    worker_init.disconnect(celery_app._load_engine)
    try:
        controller = WorkController(
            app=app,
            pool_cls="threads",
            concurrency=concurrency,
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
    assert ready.wait(30), "the worker did not start"
    try:
        yield controller
    finally:
        controller.stop()
        thread.join(10)
