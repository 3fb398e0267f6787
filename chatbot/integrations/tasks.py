"""Celery tasks of the integrations domain. They run on the default queue, never on `gpu`, so
webhook traffic never competes with replies for an inference worker."""

from celery import shared_task

from . import delivery


@shared_task(ignore_result=True)
def deliver(delivery_id: int, attempt: int):
    """Send one attempt of a webhook delivery; schedule the next one with backoff if it failed."""
    wait = delivery.attempt(delivery_id, attempt)
    if wait is not None:
        deliver.apply_async((delivery_id, attempt + 1), countdown=wait)
