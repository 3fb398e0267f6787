"""Keeping the knowledge index in step with articles changed through the API: the knowledge
domain's Celery task re-indexes the store in the background once the change is committed."""

from django.db import transaction


def reindex_later(store_id: int) -> None:
    from chatbot.knowledge.tasks import index_store

    transaction.on_commit(lambda: index_store.delay(store_id), robust=True)
