"""A small knowledge base of a fictional bike shop, written for these tests (not evaluation data)."""

import pytest

from chatbot.knowledge.models import Article
from chatbot.stores.models import Store

BIKE_SHOP = {
    "Returns": """# Returns

You can return a bike within 45 days of delivery if it has not been ridden outdoors.

## Starting a return
Open My Account > Purchases and choose "Return item". We email a prepaid label.

## Refund timing
Refunds reach your card within 6 business days after the returned item arrives.
""",
    "Shipping": """## Delivery times
Bikes ship in 4–6 business days; accessories in 2 business days.

## Shipping costs
Shipping is free above $120; otherwise a flat $9 is charged.

## Countries
We deliver to Germany, Austria and Switzerland only.
""",
    "Warranty": """## Frame warranty
Every frame has a lifetime warranty against cracks and breaks.

## Components
Gears, brakes and wheels are covered for 2 years.
""",
    "Gift cards": """## Buying a gift card
Gift cards are sold in amounts from $25 to $500 and never expire.

## Redeeming a gift card
Enter the 16-character code at checkout.
""",
    "Bike fitting": """## Booking a fitting
Book a 60-minute fitting session in our Leipzig workshop from the Services page. It costs $80.
""",
}


@pytest.fixture
def bike_shop(transactional_db):
    store = Store.objects.create(name="Spoke & Chain", slug="spoke-and-chain")
    for title, body in BIKE_SHOP.items():
        Article.objects.create(store=store, title=title, body=body)
    return store
