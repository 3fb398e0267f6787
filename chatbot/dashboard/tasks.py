"""Periodic work of the dashboard (scheduled by Celery beat: CELERY_BEAT_SCHEDULE)."""

import logging

from celery import shared_task

from chatbot.conversations import outcomes

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def close_inactive_conversations() -> dict[str, int]:
    """Give quiet conversations their outcome (see outcomes.close_inactive)."""
    counts = outcomes.close_inactive()
    if counts:
        log.info("closed inactive conversations: %s", counts)
    return counts
