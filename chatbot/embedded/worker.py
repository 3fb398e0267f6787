"""A Celery worker inside the web process, for the embedded (single-process) mode.

It consumes the same `gpu` queue with the same task code as a production worker, from the
in-process `memory://` broker, on a thread pool, so no broker service is needed.
"""

import threading
import time

from celery.beat import EmbeddedService
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
            ready_callback=lambda consumer: self._ready.set(),
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self._thread = threading.Thread(
            target=self._controller.start, name="embedded-worker", daemon=True
        )
        # Periodic tasks (CELERY_BEAT_SCHEDULE) on a thread, since the memory broker is this
        # process's; the schedule is kept in memory, not in a file another server could share.
        self._beat = EmbeddedService(app, thread=True, scheduler_cls="celery.beat:Scheduler")

    def start(self, timeout: float = 60.0) -> None:
        """Start consuming; returns once the worker is ready for tasks."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the embedded Celery worker did not start (see the log above)")
        self._beat.start()

    def stop(self) -> None:
        self._beat.stop()
        self._controller.stop()
        self._thread.join(10)
