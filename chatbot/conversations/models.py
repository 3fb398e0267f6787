"""Conversations between a shopper and a store, every message in them, and what staff track about
them (who escalated and when, assignee, tags).

Bot messages carry the engine's usage so the cost of each dialogue can be computed from the store's
hourly price. A conversation also holds the lease of the one worker allowed to reply to it.
"""

from django.conf import settings
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


class Tag(models.Model):
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=40)

    class Meta:
        db_table = "dashboard_tag"  # the dashboard app created it; the rows stay
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["store", "name"], name="unique_tag_per_store")
        ]

    def __str__(self):
        return self.name


class ConversationInfo(models.Model):
    """Who escalated a conversation and when, and what staff track about it: its assignee and tags."""

    class EscalatedBy(models.TextChoices):
        SHOPPER = "shopper", "Shopper asked for a person"
        BOT = "bot", "Bot handed over"
        STAFF = "staff", "Staff took over"

    conversation = models.OneToOneField(
        "conversations.Conversation",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="staff_info",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="conversations")
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_by = models.CharField(max_length=8, choices=EscalatedBy.choices, blank=True)

    class Meta:
        db_table = "dashboard_conversationinfo"  # the dashboard app created it; the rows stay

    def __str__(self):
        return f"staff info of conversation {self.conversation_id}"
