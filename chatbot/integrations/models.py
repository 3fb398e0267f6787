"""How a store connects its shop system: identity verification, the order-status endpoint, and
webhook subscriptions with a log of every delivery.

Secrets here (identity secret, order endpoint credentials, webhook signing secrets) are kept in
plain text because Parley must use them to sign or call; they are never logged or returned by the
API after creation.
"""

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .http import public_url


def new_identity_secret() -> str:
    return "ids_" + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class StoreIntegration(models.Model):
    class OrderAuth(models.TextChoices):
        NONE = "none", "No authentication"
        BEARER = "bearer", "Bearer token"
        BASIC = "basic", "HTTP basic (user + password)"
        HEADER = "header", "API-key header"

    store = models.OneToOneField(
        "stores.Store", on_delete=models.CASCADE, related_name="integration"
    )
    identity_secret = models.CharField(
        max_length=128,
        default=new_identity_secret,
        help_text="Your back end signs shopper ids with this (HMAC-SHA256 or an HS256 JWT).",
    )
    verification_required = models.BooleanField(
        default=False, help_text="Refuse chats whose shopper identity is missing or invalid."
    )
    order_status_url = models.URLField(
        blank=True,
        validators=[public_url],
        help_text="GET {url}?order=<number>&customer=<verified id> answers the order's status.",
    )
    order_auth = models.CharField(max_length=8, choices=OrderAuth.choices, default=OrderAuth.NONE)
    order_auth_username = models.CharField(max_length=200, blank=True, help_text="Basic auth user.")
    order_auth_header = models.CharField(
        max_length=100, blank=True, help_text="Header name for API-key auth, e.g. X-Api-Key."
    )
    order_auth_secret = models.CharField(
        max_length=500, blank=True, help_text="Bearer token, basic password, or header value."
    )
    order_timeout_seconds = models.FloatField(
        default=3.0, validators=[MinValueValidator(0.1), MaxValueValidator(30)]
    )

    def __str__(self):
        return f"Integration of {self.store}"


class WebhookSubscription(models.Model):
    class Event(models.TextChoices):
        CONVERSATION_CREATED = "conversation.created"
        CONVERSATION_ESCALATED = "conversation.escalated"
        CONVERSATION_RESOLVED = "conversation.resolved"
        MESSAGE_CREATED = "message.created"
        CSAT_SUBMITTED = "csat.submitted"

    store = models.ForeignKey(
        "stores.Store", on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=500, validators=[public_url])
    events = models.JSONField(default=list, help_text="Event types delivered to this URL.")
    secret = models.CharField(max_length=128, default=new_webhook_secret, editable=False)
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"{self.url} ({', '.join(self.events)})"


class WebhookDelivery(models.Model):
    """One event for one subscription, and every attempt to deliver it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        RETRYING = "retrying", "Failed, will retry"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Gave up"

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(help_text="Same on every retry, so receivers can drop duplicates.")
    event = models.CharField(max_length=40)
    body = models.TextField(help_text="The exact JSON that is signed and sent.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # One entry per attempt: {"at", "status_code", "error", "duration_ms"}.
    attempt_log = models.JSONField(default=list)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    delivered = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["subscription", "created"])]

    def __str__(self):
        return f"{self.event} → {self.subscription.url}: {self.status}"
