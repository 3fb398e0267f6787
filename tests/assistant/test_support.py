"""The sentence-level support check and the product's fixed phrases: what may reach a shopper."""

import datetime

import pytest

from chatbot.assistant import phrases, policy
from chatbot.assistant.support import Sources
from chatbot.integrations import order_replies, orders

ARTICLE = """# Returns

Unused items can be returned within 60 days of delivery. Sale items cannot be returned.

## Starting a return
Go to Profile > My orders and press "Send back". The label costs $4.
Questions go to help@copperpot.example.
"""


@pytest.fixture(scope="module")
def sources():
    return Sources([ARTICLE, "This is Copper Pot."])


@pytest.mark.parametrize(
    "sentence",
    [
        "Unused items can be returned within 60 days of delivery.",  # verbatim
        "You can return unused items within 60 days of delivery.",  # close paraphrase
        'Press "Send back" under Profile > My orders.',
        "Sale items cannot be returned.",
        "Questions go to help@copperpot.example.",
    ],
)
def test_copies_and_close_paraphrases_are_supported(sources, sentence):
    assert sources.check(sentence).supported, sources.check(sentence)


@pytest.mark.parametrize(
    ("sentence", "why"),
    [
        ("Unused items can be returned within 30 days of delivery.", "a figure no source has"),
        ("See https://www.copperpot-returns.com for details.", "an invented link"),
        ("Unused items can be returned at copperpot.com within 60 days.", "an invented domain"),
        ("Write to returns@copperpot.example.", "an invented address"),
        ('Press "Return now" under Profile > My orders.', "a label no source has"),
        ("Sale items can be returned.", "the negation dropped"),
        ("Unused items cannot be returned.", "a negation added"),
        ("Yes.", "no content words"),
        ("I'm sorry for your loss, but I can't assist you further today.", "off topic"),
        ("Chat History: Marlo: Hey there!", "prompt debris"),
        ("We deliver to Canada within 60 days.", "words the sources lack"),
    ],
)
def test_anything_else_is_not(sources, sentence, why):
    assert not sources.check(sentence).supported, why


def test_the_question_is_no_source():
    shopper = "Do you deliver kettles to Canada?"
    assert not Sources([ARTICLE]).check("We deliver kettles to Canada.").supported
    assert Sources([ARTICLE, shopper]).check("We deliver kettles to Canada.").supported  # control


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (phrases.GREETING.split("! ")[1], "greeting"),
        (phrases.ASK_ORDER_NUMBER.split(". ")[1], "order"),
        (phrases.part_not_covered("do you sell gift cards?"), phrases.ABSTAIN),
        (phrases.source("Returns › Starting a return"), "source"),
    ],
)
def test_fixed_phrases_are_recognised_sentence_by_sentence(text, kind):
    assert phrases.kind_of(text) == kind


def test_every_sentence_of_a_handoff_and_an_order_wording_is_a_fixed_phrase():
    from chatbot.stores.models import SupportHours

    hours = SupportHours(
        weekdays=[0], opens=datetime.time(8), closes=datetime.time(9), time_zone="UTC"
    )
    night = datetime.datetime(2026, 3, 4, 22, tzinfo=datetime.UTC)
    texts = [
        policy.handoff_text("complaint", hours, night),
        policy.handoff_text("nothing_relevant", None, night),
        order_replies.wording(orders.OrderStatus("10452", "Shipped", "UPS", "1Z99", "May 3")),
        order_replies.wording(orders.LookupFailure(orders.Failure.NOT_FOUND, "10452")),
    ]
    for text in texts:
        for sentence in phrases.sentences(text):
            assert phrases.kind_of(sentence) is not None, sentence
    assert phrases.kind_of("Your order ships free worldwide, trust me!") is None
    assert phrases.kind_of(phrases.OPENERS["nothing_relevant"]) == phrases.ABSTAIN


def test_a_list_quoted_as_one_sentence_with_its_lead_in_is_supported():
    from chatbot.knowledge.passages import joined_leads, sentences

    article = "Autoship gives you:\n- 25% off your first order;\n- free delivery;\n- double points."
    sources = Sources([article])
    joined = joined_leads(sentences(article))
    assert joined == ["Autoship gives you: 25% off your first order; free delivery; double points."]
    assert sources.supported(joined[0])
    assert not sources.supported("Autoship gives you: 50% off your first order; free delivery.")


def test_list_items_quoted_without_the_sentences_between_them_are_supported():
    article = (
        "Everything is done from My Account > Subscriptions:\n\n"
        "- **Skip next delivery** skips just the next one. Your schedule carries on afterwards.\n"
        "- **Pause subscription** stops deliveries for 1 to 12 weeks. You choose the restart date.\n"
    )
    sources = Sources([article])
    assert sources.supported(
        "Everything is done from My Account > Subscriptions: Skip next delivery skips just the "
        "next one; Pause subscription stops deliveries for 1 to 12 weeks."
    )
    assert not sources.supported(
        "Everything is done from My Account > Subscriptions: Skip next delivery skips just the "
        "next one; Pause subscription stops deliveries for 1 to 24 weeks."
    )
