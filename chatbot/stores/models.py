"""The tenant: a store that embeds the widget, with its persona and what its compute costs, and its
support settings: when a person can answer (support hours) and staff's canned responses."""

import datetime
import secrets
import zoneinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models


def new_widget_key() -> str:
    """Public key carried by the store's <script> tag; unguessable so stores can't be enumerated."""
    return "pk_" + secrets.token_urlsafe(18)


class Store(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    widget_key = models.CharField(max_length=64, unique=True, default=new_widget_key)
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text='Page origins allowed to open the chat, e.g. ["https://shop.example.com"].',
    )
    system_prompt = models.TextField(
        blank=True, help_text="Persona and rules the assistant follows for this store."
    )
    hourly_price = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("0"),
        help_text="Price of one hour of the inference host; replies are billed on their share of it.",
    )
    currency = models.CharField(max_length=3, default="USD")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def allows_origin(self, origin: str) -> bool:
        """Exact match of scheme://host[:port], ignoring a trailing slash and case."""
        wanted = origin.strip().rstrip("/").lower()
        return bool(wanted) and any(
            wanted == allowed.strip().rstrip("/").lower() for allowed in self.allowed_origins
        )


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
        db_table = "dashboard_supporthours"  # the dashboard app created it; the rows stay
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


class CannedResponse(models.Model):
    store = models.ForeignKey(
        "stores.Store", on_delete=models.CASCADE, related_name="canned_responses"
    )
    title = models.CharField(max_length=80)
    text = models.TextField()

    class Meta:
        db_table = "dashboard_cannedresponse"  # the dashboard app created it; the rows stay
        ordering = ["title"]

    def __str__(self):
        return self.title
