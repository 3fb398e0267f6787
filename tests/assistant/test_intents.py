"""The intent step: order numbers, the hand-over cues, and embedding classification."""

import pytest

from chatbot.assistant import intents
from chatbot.knowledge import embeddings


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("where is order 55120931?", ["55120931"]),
        ("status of purchase #A-10293", ["A-10293"]),
        ("order no. 4471 and 99812345", ["4471", "99812345"]),
        ("I paid $14999 for it", []),
        ("my order hasn't arrived", []),
        ("has TT-48213 shipped yet?", ["TT-48213"]),
        ("my order number is AB-1234-XY", ["AB-1234-XY"]),
        ("can you check 48213 for me", ["48213"]),
        ("the WH-1000XM5 I ordered", []),
    ],
)
def test_order_numbers(text, numbers):
    assert intents.order_numbers(text) == numbers


@pytest.mark.parametrize(
    "text",
    [
        "let me talk to a real person",
        "can I chat with an agent please",
        "I need to speak wiht somebody",  # misspelt
        "transfer me to a representative",
        "Would a member of staff be able to pick this up with me, please?",
        "could somebody sort this out for me",
        "Please put me through to a real person, I don't want to talk to a bot.",
        "can i get someone to help me",
    ],
)
def test_requests_for_a_person(text):
    assert intents.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "what is the customer service phone number?",
        "I need assistance with my invoice",  # "assistance" is not an assistant
        "how do I change my password",
        "where can I look up my order status?",
        "Can I get a gift card sent by email as a present for someone in my family?",
        "Can I get a gift voucher sent to someone for their birthday?",
        "can you put a note on my order for the delivery person",
        # the two cues in different sentences
        "I'm driving over on Monday to pick up my Click & Collect. Will someone be there?",
    ],
)
def test_not_requests_for_a_person(text):
    assert not intents.asks_for_person(text)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("My espresso machine order KS-48203, any idea when it's arriving?", True),
        ("when will purchase #10452 get here", True),
        ("how long is delivery to 90210?", False),
        ("how long does an order take to arrive?", False),
    ],
)
def test_names_order(text, named):
    assert intents.names_order(text) is named


def test_complaints_and_claims():
    assert intents.complains("I want to file a complaint about the delivery")
    assert intents.complains("where do I lodge a claim against your shop")
    assert not intents.complains("how do I make a warranty claim?")
    assert intents.complains("my card was charged twice for one subscription, can you refund it?")
    assert intents.complains("I think I was overcharged for delivery")
    assert not intents.complains("when will my card be charged for a pre-order?")
    assert intents.gives_feedback("I'd like to leave a review")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("I'd like to call off my purchase", "cancel_order"),
        ("where's my parcel right now?", "track_order"),
        ("which ways can I pay?", "check_payment_methods"),
        ("hello!", "greeting"),
        # Offers a store may not have are told from its services.
        ("do you sell e-gift vouchers?", "gift_cards"),
        ("could you wrap it as a present", "gift_wrapping"),
        ("is there a buy now pay later option", "instalments"),
        ("can I come to your showroom to see it", "physical_store"),
        ("could I part exchange my old coffee machine", "trade_in"),
        ("is there a discount for NHS staff or Blue Light card holders?", "special_discounts"),
        ("Is there a discount if I sign up for your newsletter?", "newsletter_subscription"),
        ("can I put my monthly delivery on hold while we're away?", "subscription"),
        ("please cancel my newsletter subscription", "newsletter_subscription"),
        ("what's the email address for your support team?", "contact_customer_service"),
        ("is your customer service open on saturdays?", "support_hours"),
        ("I want to open an account for my wife", "create_account"),
        ("when will my order 5512 get here", "track_order"),
        # Shopping questions with the words of requests no shop answers keep their intent.
        ("Will my parcel arrive if it rains?", "delivery_period"),
        ("Can I get a tax invoice for my order?", "invoice"),
        ("Is the shop open on Saturday?", "support_hours"),
        # A return deadline asked as a date, a delivery price with the country and the thing
        # named, how long a gift card lasts.
        (
            "We got the kettle on 20 December as a present. Until when can we send it back?",
            "check_refund_policy",
        ),
        ("What does standard delivery to Austria cost for a speaker?", "delivery_options"),
        # A price that fell after the purchase is not one found elsewhere.
        (
            "you've put the kettle on sale a week after I paid full price, can I claim the "
            "difference?",
            "price_adjustment",
        ),
        ("Harvey Norman sells it cheaper, will you match it?", "price_match"),
        (
            "Got a gift card from my uncle, how long do I have before it stops working?",
            "gift_cards",
        ),
    ],
)
def test_classification(text, name):
    match = intents.classify(embeddings.encode([text])[0])
    assert match.intent is not None and match.intent.name == name


def test_an_offer_is_named_by_its_words_in_any_inflection_not_inside_others():
    gift_cards, wrapping = intents.BY_NAME["gift_cards"], intents.BY_NAME["gift_wrapping"]
    assert intents.names_offer(gift_cards, "We accept Harbor & Pine gift cards and PayPal.")
    assert not intents.names_offer(gift_cards, "We accept Visa, Mastercard and PayPal.")
    assert intents.names_offer(wrapping, "Every order can be gift-wrapped for $3.")
    assert not intents.names_offer(intents.BY_NAME["classes_events"], "It eventually arrives.")
    assert intents.names_offer(intents.BY_NAME["cancel_order"], "anything: not an offer")


@pytest.mark.parametrize(
    "text",
    [
        "Is it going to be sunny in London on Sunday?",
        "any good pizza places around here?",
        "did Liverpool win yesterday?",
        "I've got a headache, what painkiller is best?",
        "what's on at the theatre tonight?",
        "I need a good diet plan",
    ],
)
def test_requests_no_shop_answers_are_unrelated(text):
    match = intents.classify(embeddings.encode([text])[0])
    assert match.intent is not None and match.intent.action == intents.UNRELATED


def test_a_price_match_is_not_named_by_a_lower_price_of_another_offer():
    price_match = intents.BY_NAME["price_match"]
    assert not intents.names_offer(
        price_match, "A subscription sends fresh coffee at a lower price than one-off orders."
    )
    assert intents.names_offer(price_match, "Found it cheaper elsewhere? We price-match.")


def test_back_in_stock_is_not_named_by_what_happens_to_an_item_out_of_stock():
    restock = intents.BY_NAME["back_in_stock"]
    assert not intents.names_offer(
        restock, "If an item turns out to be out of stock, we only charge you for what we send."
    )
    assert intents.names_offer(restock, "Sold out? Tap Notify me and we e-mail you when it's back.")


def test_unrelated_text_has_no_intent():
    match = intents.classify(embeddings.encode(["the mitochondria is the powerhouse"])[0])
    assert match.intent is None


@pytest.mark.parametrize(
    "text, mentions",
    [
        ("wher is my ordr #10452", True),
        ("my parcle 55123 never came", True),
        ("shipmnet 8812?", True),
        ("the receipt says 10452", False),
        ("is 3 weeks normal", False),
        ("wats the staus of 3050047 pls", True),
    ],
)
def test_an_order_is_recognised_with_one_typo_in_its_word(text, mentions):
    assert intents.mentions_order(text) is mentions


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("Two weeks and still no parcel. I'm sick of waiting", True),
        ("the lid snapped on day one, honestly disgusted", True),
        ("Frustrated: I was charged twice for one kettle", True),
        ("my order never came and nobody answers emails, this is a joke", True),
        ("worst service ever, the app is useless", True),
        ("is there a joke gift section?", False),
        ("How do I return a kettle I don't need?", False),
        ("what happens if my card is declined?", False),
        ("I emailed three weeks ago and haven't had a reply. Could someone look at it?", True),
        ("I wrote to you about the cracked pot and never heard back", True),
        ("I haven't received my order yet, where is it?", False),
        ("How long is a fig tree guaranteed for, and where do I send a claim?", False),
    ],
)
def test_a_shopper_who_says_how_unhappy_they_are_is_complaining(text, complaint):
    assert intents.complains(text) is complaint


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("Where do I find the frame number on my bike?", False),
        ("where is my order?", True),
        ("has 24081537 shipped yet", True),
    ],
)
def test_an_order_look_up_is_read_only_where_the_message_names_an_order(text, order):
    from chatbot.assistant import pipeline

    match = pipeline._classified(embeddings.encode([text])[0], text)
    looks_up = match.intent is not None and match.intent.action == intents.ORDER_STATUS
    assert looks_up == order
