"""The Celery app: `celery -A chatbot worker -Q gpu -P threads --concurrency 16`.

A worker process loads the engine once, before it takes tasks; its threads then stream replies
concurrently into that one engine, which batches them.
"""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatbot.settings")

app = Celery("chatbot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _serve_metrics(**_):
    """The worker's own /metrics (its engine's counters), when WORKER_METRICS_PORT is set."""
    from django.conf import settings

    if settings.WORKER_METRICS_PORT:
        from chatbot.observability import worker_server

        worker_server.serve(settings.WORKER_METRICS_HOST, settings.WORKER_METRICS_PORT)


@worker_init.connect
def _load_engine(**_):
    """Load the models before the worker reports ready, not inside the first shopper's reply."""
    from chatbot.assistant import intents
    from chatbot.engine import get_engine
    from chatbot.knowledge import embeddings

    get_engine()
    # The embedding model, and the intent examples it embeds on first use (seconds on a CPU).
    intents.classify(embeddings.encode(["Hello"])[0])
