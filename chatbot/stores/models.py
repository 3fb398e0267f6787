"""The tenant: a store that embeds the widget, with its persona and what its compute costs."""

import secrets
from decimal import Decimal

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
