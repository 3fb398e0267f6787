"""Webhook events: `emit` records one delivery per subscribed endpoint once the caller's transaction
commits, and hands each to a Celery worker. Nothing is sent from the chat path itself, so a slow or
failing endpoint cannot slow a conversation down."""

import json
import logging
import uuid

from django.db import transaction
from django.utils import timezone

from chatbot.conversations.models import Conversation

from . import payloads
from .models import WebhookDelivery, WebhookSubscription

log = logging.getLogger(__name__)

EVENTS = [choice.value for choice in WebhookSubscription.Event]


def emit(store_id: int, event: str, data: dict) -> None:
    """Queue `event` for the store's subscribers after commit (at once outside a transaction)."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    transaction.on_commit(lambda: enqueue(store_id, event, data), robust=True)


def conversation_event(conversation_id: int, event: str) -> None:
    """For code that changes a conversation with `QuerySet.update()` (no signal fires): emit
    `event` with the conversation as it is after commit."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")

    def send():
        conversation = Conversation.objects.filter(pk=conversation_id).first()
        if conversation is not None:
            enqueue(conversation.store_id, event, payloads.conversation(conversation))

    transaction.on_commit(send, robust=True)


def enqueue(store_id: int, event: str, data: dict) -> list[WebhookDelivery]:
    from .tasks import deliver

    subscriptions = [
        subscription
        for subscription in WebhookSubscription.objects.filter(store_id=store_id, active=True)
        if event in subscription.events
    ]
    if not subscriptions:
        return []
    event_id = uuid.uuid4()
    body = json.dumps(
        {"id": str(event_id), "type": event, "created": timezone.now().isoformat(), "data": data},
        separators=(",", ":"),
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(subscription=s, event_id=event_id, event=event, body=body)
        for s in subscriptions
    )
    for delivery in deliveries:
        deliver.delay(delivery.pk, 1)
    log.info("webhook %s %s queued for %d endpoint(s)", event, event_id, len(deliveries))
    return deliveries
