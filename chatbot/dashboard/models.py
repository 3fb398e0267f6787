"""Who of the staff works for which store, and who wrote each staff message. (A conversation's
assignee, tags and escalation are in ``chatbot.conversations``; support hours and canned responses
are store settings, in ``chatbot.stores``.)"""

from django.conf import settings
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
