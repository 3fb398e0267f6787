"""Who of the staff works for which store, and what staff add to a conversation: the person it is
assigned to, tags, why it was escalated, who wrote each staff message, and the store's support hours
and canned responses."""

import datetime
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class Membership(models.Model):
    """A staff user works for a store. Agents answer its conversations; admins also run its settings."""

    class Role(models.TextChoices):
        AGENT = "agent", "Agent"
        ADMIN = "admin", "Admin"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_memberships"
    )
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.AGENT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "store"], name="one_membership_per_store")
        ]

    def __str__(self):
        return f"{self.user} ({self.role}) at {self.store}"


def validate_weekdays(value):
    if not isinstance(value, list) or any(d not in range(7) for d in value):
        raise ValidationError("Weekdays are a list of numbers 0 (Monday) to 6 (Sunday).")


def validate_time_zone(value):
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown time zone {value!r}.") from None


class SupportHours(models.Model):
    """When a person can answer: what the shopper is told when a conversation is escalated."""

    store = models.OneToOneField(
        "stores.Store", on_delete=models.CASCADE, primary_key=True, related_name="support_hours"
    )
    weekdays = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_weekdays],
        help_text="0 = Monday … 6 = Sunday",
    )
    opens = models.TimeField(default=datetime.time(9))
    closes = models.TimeField(default=datetime.time(17))
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])

    class Meta:
        verbose_name_plural = "support hours"

    def __str__(self):
        return f"{self.store}: {self.describe()}"

    def is_open(self, at: datetime.datetime) -> bool:
        local = at.astimezone(zoneinfo.ZoneInfo(self.time_zone))
        return local.weekday() in self.weekdays and self.opens <= local.time() < self.closes

    def describe(self) -> str:
        if not self.weekdays:
            return "no staffed hours"
        names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        days = ", ".join(names[d] for d in sorted(self.weekdays))
        return f"{days} {self.opens:%H:%M}–{self.closes:%H:%M} ({self.time_zone})"


class Tag(models.Model):
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=40)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["store", "name"], name="unique_tag_per_store")
        ]

    def __str__(self):
        return self.name


class CannedResponse(models.Model):
    store = models.ForeignKey(
        "stores.Store", on_delete=models.CASCADE, related_name="canned_responses"
    )
    title = models.CharField(max_length=80)
    text = models.TextField()

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title


class ConversationInfo(models.Model):
    """What staff track about a conversation, beside the conversation itself."""

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

    def __str__(self):
        return f"staff info of conversation {self.conversation_id}"


class StaffAuthor(models.Model):
    """Which staff user wrote a staff message."""

    message = models.OneToOneField(
        "conversations.Message",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="staff_author",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self):
        return f"{self.user} wrote message {self.message_id}"
