"""The demo store that `seed_demo` creates and the home page embeds."""

import hashlib
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection

SLUG = "harbor-demo"
NAME = "Harbor Demo Outfitters"
ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]
PERSONA = (
    "You are Marlo, the friendly customer-service assistant of Harbor Demo Outfitters, an online "
    "shop for rain jackets, boots and sailing gear. Answer in two or three short sentences. "
    "Shipping is free over $75 and takes 2-4 business days; returns are free within 30 days. "
    "If you do not know something, say so and offer to connect the shopper with a person."
)
HOURLY_PRICE = Decimal("1.2000")
ARTICLES = {
    "Shipping": "Orders ship within one business day. Delivery takes 2-4 business days in the "
    "continental US. Shipping is free on orders over $75, otherwise $6.",
    "Returns": "Unworn items can be returned within 30 days for a full refund. Return labels are "
    "free; start a return from the link in your order email.",
    "Sizing": "Jackets run true to size. Boots run half a size small: order half a size up.",
    "Care": "Wash rain jackets cold and tumble dry low to refresh the water-repellent finish.",
}
PRODUCTS = [
    {"name": "Harbor Rain Shell", "price": "129.00", "color": "#2f6f8f"},
    {"name": "Deckhand Boots", "price": "89.00", "color": "#8f5a2f"},
    {"name": "Lighthouse Beanie", "price": "24.00", "color": "#b23a48"},
    {"name": "Tide Dry Bag 20 L", "price": "39.00", "color": "#3f8f5a"},
]
ADMIN_USERNAME = "admin"


def login_file() -> Path:
    """Where seed_demo notes the generated staff password, one file per database (never in git)."""
    database = str(connection.settings_dict["NAME"])
    return settings.VAR_DIR / f"demo-login-{hashlib.sha256(database.encode()).hexdigest()[:10]}.txt"
