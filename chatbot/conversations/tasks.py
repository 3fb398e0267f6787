"""Celery tasks of the conversations domain (routed to queue `gpu`, where inference workers listen)."""

from celery import shared_task

from . import replies


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,
)
def generate_reply(self, conversation_id: int):
    """Answer a conversation's pending messages. Acknowledged only when done, so a worker killed
    mid-reply leaves the task to be redelivered, and the new worker answers once the lease lapses."""
    wait = replies.answer_pending(conversation_id)
    if wait is not None:
        raise self.retry(countdown=wait)
