"""Sending one webhook delivery attempt, and when to try again.

Each attempt is claimed with a conditional update on the attempt number, so a task the broker
hands out twice (a countdown outliving the visibility timeout) still sends once.
"""

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from . import http
from .models import WebhookDelivery
from .signing import webhook_headers

OPEN = [WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING]


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): doubling, capped."""
    base = settings.WEBHOOK_BACKOFF_SECONDS
    return min(base * 2 ** (attempt - 1), settings.WEBHOOK_BACKOFF_MAX_SECONDS)


def attempt(delivery_id: int, number: int) -> float | None:
    """Make attempt `number`; returns the countdown to the next attempt, or None when done."""
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, attempts=number - 1, status__in=OPEN
    ).update(status=WebhookDelivery.Status.SENDING, attempts=number, next_attempt_at=None)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    if not subscription.active:
        return _finish(delivery, WebhookDelivery.Status.FAILED, None, "subscription disabled", 0)
    headers = webhook_headers(
        subscription.secret, str(delivery.event_id), int(time.time()), delivery.body
    )
    headers["Content-Type"] = "application/json"
    started = time.monotonic()
    try:
        answer = http.send(
            "POST",
            subscription.url,
            headers,
            settings.WEBHOOK_TIMEOUT_SECONDS,
            delivery.body.encode(),
        )
        status_code, error = answer.status, "" if 200 <= answer.status < 300 else "HTTP error"
    except http.RequestFailed as failure:
        status_code, error = None, str(failure)
    duration_ms = round((time.monotonic() - started) * 1000)
    if not error:
        return _finish(delivery, WebhookDelivery.Status.SUCCEEDED, status_code, "", duration_ms)
    if number >= settings.WEBHOOK_MAX_ATTEMPTS:
        return _finish(delivery, WebhookDelivery.Status.FAILED, status_code, error, duration_ms)
    wait = backoff(number)
    delivery.next_attempt_at = timezone.now() + timedelta(seconds=wait)
    _finish(delivery, WebhookDelivery.Status.RETRYING, status_code, error, duration_ms)
    return wait


def _finish(delivery, status, status_code, error, duration_ms) -> None:
    now = timezone.now()
    delivery.attempt_log = delivery.attempt_log + [
        {
            "attempt": delivery.attempts,
            "at": now.isoformat(),
            "status_code": status_code,
            "error": error,
            "duration_ms": duration_ms,
        }
    ]
    delivery.status = status
    if status == WebhookDelivery.Status.SUCCEEDED:
        delivery.delivered = now
    delivery.save(update_fields=["attempt_log", "status", "delivered", "next_attempt_at"])
    return None
