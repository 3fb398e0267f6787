"""A Celery worker inside the web process, for the embedded (single-process) mode.

It consumes the same `gpu` queue with the same task code as a production worker, from the
in-process `memory://` broker, on a thread pool, so no broker service is needed.
"""

import threading

from celery.worker import WorkController

from chatbot.celery import app


class EmbeddedWorker:
    def __init__(self, concurrency: int):
        self._ready = threading.Event()
        self._controller = WorkController(
            app=app,
            pool_cls="threads",
            concurrency=concurrency,
            queues=["gpu", app.conf.task_default_queue],
            loglevel="WARNING",
            ready_callback=self._ready.set,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self._thread = threading.Thread(
            target=self._controller.start, name="embedded-worker", daemon=True
        )

    def start(self, timeout: float = 60.0) -> None:
        """Start consuming; returns once the worker is ready for tasks."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the embedded Celery worker did not start")

    def stop(self) -> None:
        self._controller.stop()
        self._thread.join(10)
