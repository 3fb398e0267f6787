"""A small knowledge base of a fictional kitchenware shop, written for these tests."""

import pytest

from chatbot.conversations.models import Conversation
from chatbot.knowledge.models import Article
from chatbot.stores.models import Store

KITCHEN_SHOP = {
    "Returns": """# Returns

Unused items can be returned within 60 days of delivery.

## Starting a return
Go to Profile > My orders and press "Send back". The label costs $4.
""",
    "Delivery": """## Delivery times
Parcels arrive in 2–3 business days within the country.

## Delivery costs
Delivery is free for orders over $90, otherwise $6.50.
""",
    "Knife sharpening": """## Sharpening service
We sharpen kitchen knives for $7 each. Drop them at the Lyon shop and collect them the next day.
""",
}


@pytest.fixture
def kitchen_shop(transactional_db):
    store = Store.objects.create(name="Copper Pot", slug="copper-pot")
    for title, body in KITCHEN_SHOP.items():
        Article.objects.create(store=store, title=title, body=body)
    return store


@pytest.fixture
def chat(kitchen_shop):
    return Conversation.objects.create(store=kitchen_shop, shopper_id="shopper-0001")
