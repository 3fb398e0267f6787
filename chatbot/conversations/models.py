"""Conversations between a shopper and a store, and every message in them.

Bot messages carry the engine's usage so the cost of each dialogue can be computed from the store's
hourly price. A conversation also holds the lease of the one worker allowed to reply to it.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Conversation(models.Model):
    class State(models.TextChoices):
        BOT = "bot", "Bot answering"
        HUMAN = "human", "Staff answering"
        ESCALATED = "escalated", "Waiting for staff"
        RESOLVED = "resolved", "Resolved"
        ABANDONED = "abandoned", "Abandoned"

    store = models.ForeignKey(
        "stores.Store", on_delete=models.CASCADE, related_name="conversations"
    )
    shopper_id = models.CharField(
        max_length=64, help_text="Anonymous id the widget keeps in the browser."
    )
    verified_identity = models.CharField(
        max_length=254, blank=True, help_text="Customer identity confirmed by the store, if any."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.BOT)
    outcome = models.CharField(max_length=64, blank=True)
    csat = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    last_activity = models.DateTimeField(default=timezone.now, db_index=True)
    # Id of the newest shopper message a reply has covered; later shopper messages await one.
    answered_through = models.BigIntegerField(default=0)
    # Who is replying right now: a worker's token, valid until the expiry it keeps renewing.
    reply_lease_token = models.UUIDField(null=True, blank=True, editable=False)
    reply_lease_expires = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-last_activity"]
        indexes = [
            models.Index(fields=["store", "shopper_id"]),
            models.Index(fields=["store", "state", "last_activity"]),
        ]

    def __str__(self):
        return f"#{self.pk} {self.store} / {self.shopper_id}"

    @property
    def group_name(self) -> str:
        """Channel-layer group every socket of this conversation listens on."""
        return f"conversation.{self.pk}"


class Message(models.Model):
    class Role(models.TextChoices):
        SHOPPER = "shopper", "Shopper"
        BOT = "bot", "Bot"
        STAFF = "staff", "Staff"
        SYSTEM = "system", "System"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=8, choices=Role.choices)
    text = models.TextField()
    client_msg_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="Id the widget gave the message; makes resends idempotent.",
    )
    created = models.DateTimeField(auto_now_add=True)

    # Bot replies: the id streamed to clients, and the engine's usage.
    reply_id = models.UUIDField(null=True, blank=True)
    model = models.CharField(max_length=100, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    cached_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    engine_seconds = models.FloatField(null=True, blank=True)
    shared_engine_seconds = models.FloatField(
        null=True, blank=True, help_text="This reply's share of batched engine time (billed)."
    )
    time_to_first_token = models.FloatField(null=True, blank=True)
    finish_reason = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_msg_id"],
                condition=~Q(client_msg_id=""),
                name="unique_client_msg_id_per_conversation",
            )
        ]

    def __str__(self):
        return f"{self.role}: {self.text[:60]}"

    def as_frame(self) -> dict:
        """The JSON a client gets for a stored message (resync and staff messages)."""
        return {
            "id": self.pk,
            "role": self.role,
            "text": self.text,
            "client_msg_id": self.client_msg_id or None,
            "reply_id": str(self.reply_id) if self.reply_id else None,
            "created": self.created.isoformat(),
        }
