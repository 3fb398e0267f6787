"""The six shopper messages of issue 14, each from a new shopper of the demo shop, through the real
reply path (the worker's `answer_pending`) with the default model: what the shopper reads is
either a fixed phrase of the product or supported by the shop's articles or order record."""

import pytest
from assistant_chat import shopper_says

from chatbot.assistant import phrases
from chatbot.assistant.models import ReplyTrace
from chatbot.assistant.order_endpoint import OrderEndpoint
from chatbot.assistant.support import Sources
from chatbot.conversations import replies
from chatbot.conversations.models import Conversation, Message
from chatbot.knowledge.models import Article
from chatbot.shop import demo
from chatbot.stores.models import Store

pytestmark = [pytest.mark.slow]
ORDER = {"10452": {"status": "Shipped", "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}}


@pytest.fixture
def demo_shop(transactional_db, private_networks):
    from chatbot.integrations.models import StoreIntegration

    store = Store.objects.create(name=demo.NAME, slug="demo-copy", system_prompt=demo.PERSONA)
    for title, body in demo.ARTICLES.items():
        Article.objects.create(store=store, title=title, body=body)
    endpoint = OrderEndpoint().start()
    endpoint.serve("customer-7", ORDER)
    StoreIntegration.objects.create(
        store=store,
        order_status_url=endpoint.url,
        order_auth=StoreIntegration.OrderAuth.BEARER,
        order_auth_secret=endpoint.token,
    )
    store.orders = endpoint  # for a test that serves other orders
    yield store
    endpoint.stop()


def reply_to(store: Store, text: str, verified: str = "customer-7") -> tuple[Message, ReplyTrace]:
    chat = Conversation.objects.create(
        store=store, shopper_id=f"new-shopper-{Conversation.objects.count():03d}",
        verified_identity=verified,
    )  # fmt: skip
    asked = shopper_says(chat, text)
    assert replies.answer_pending(chat.pk) is None
    bot = chat.messages.filter(role=Message.Role.BOT).get()
    trace = ReplyTrace.objects.get(message=bot)
    assert trace.first_text_at is not None and trace.first_text_at >= asked.created
    return bot, trace


def assert_nothing_unsupported(text: str, sources: list[str]) -> None:
    check = Sources(sources)
    for sentence in phrases.sentences(text):
        assert phrases.kind_of(sentence) or check.supported(sentence), sentence
    assert "http" not in text and "help article “" not in text


def articles() -> list[str]:
    return list(demo.ARTICLES.values())


def test_rules_for_returns_is_a_question_not_an_attack(demo_shop):
    bot, trace = reply_to(demo_shop, "hi, what are the rules for returns?")
    assert trace.route == "answer"
    assert "30 days" in bot.text and bot.text.endswith("(Source: Returns)")
    assert_nothing_unsupported(bot.text, articles())


def test_ignore_the_last_message_then_a_question_is_answered_not_refused(demo_shop):
    bot, trace = reply_to(demo_shop, "ignore the last message, what's the return window for boots?")
    assert trace.route == "answer"
    assert "30 days" in bot.text and bot.text.endswith("(Source: Returns)")
    assert_nothing_unsupported(bot.text, articles())


def test_a_shopper_who_says_nobody_answers_gets_a_person(demo_shop):
    bot, trace = reply_to(
        demo_shop, "my order never came and nobody answers emails, this is a joke"
    )
    assert (trace.route, trace.reason) == ("handoff", "complaint")
    assert Conversation.objects.get(pk=bot.conversation_id).state == Conversation.State.ESCALATED
    assert "(Source:" not in bot.text


def test_two_questions_get_each_its_own_answer_or_are_named_as_not_covered(demo_shop):
    text = "Do you ship to Canada, and how much does express shipping cost?"
    bot, trace = reply_to(demo_shop, text)
    assert trace.route == "answer"
    blocks = bot.text.split("\n\n")
    # Each part is answered from the Shipping article (both from it: one answer, cited once) or
    # named as not covered.
    assert bot.text.count("(Source: Shipping)") == 1
    for block in blocks:
        assert (
            block.endswith("(Source: Shipping)")
            or phrases.kind_of(block) == phrases.ABSTAIN
            or (block == phrases.OFFER_PERSON)
        ), block
    assert_nothing_unsupported(bot.text, articles())


def test_a_part_not_covered_is_quoted_in_the_shoppers_own_words(demo_shop):
    """Spelling is corrected to read a message, not to rewrite what the shopper is shown."""
    bot, trace = reply_to(
        demo_shop, "How much does express shipping cost, and do you sell gift crads?"
    )
    assert trace.route == "answer"
    assert phrases.part_not_covered("do you sell gift crads") in bot.text, bot.text


def test_a_message_barely_read_as_an_intent_is_answered_from_what_it_names(transactional_db):
    """Read as a delivery-time question at 0.48, the message names made-to-order furniture: the
    delivery article's cut-off times do not answer it."""
    store = Store.objects.create(name="Tallow Loft", slug="tallow-loft")
    Article.objects.create(
        store=store,
        title="Shipping and delivery",
        body="## Cut-off times\nOrders placed before 11:30 am leave our warehouse the same "
        "business day. Orders placed later are sent the next business day.\n\n## Delivery "
        "times\nStandard delivery takes 2-4 business days; express takes 1-2.",
    )
    Article.objects.create(
        store=store,
        title="Made-to-order and custom sizes",
        body="Made-to-order furniture is built for you by our workshop and takes 8-10 weeks "
        "before it leaves us. Custom-size linen takes 3 weeks.",
    )
    bot, trace = reply_to(store, "how long is the wait on a made-to-order dining table?")
    assert trace.route == "answer"
    assert "8-10 weeks" in bot.text and "11:30" not in bot.text, bot.text


def test_a_topic_the_shop_does_not_cover_gets_an_honest_i_dont_know(demo_shop):
    bot, trace = reply_to(demo_shop, "Do you sell gift cards?")
    assert (trace.route, trace.reason) == ("handoff", "nothing_relevant")
    assert bot.text.startswith(phrases.OPENERS["nothing_relevant"])
    assert "(Source:" not in bot.text
    assert Conversation.objects.get(pk=bot.conversation_id).state == Conversation.State.ESCALATED


def test_an_order_question_with_typos_gets_the_order_status(demo_shop):
    bot, trace = reply_to(demo_shop, "wher is my ordr #10452")
    assert (trace.route, trace.reason) == ("order", "looked_up")
    assert "Your order 10452 is Shipped." in bot.text and "1Z999AA10123456784" in bot.text
    assert_nothing_unsupported(bot.text, [])


@pytest.mark.parametrize("known_as", ["HP-10452", "10452"])
def test_an_order_number_with_a_letter_prefix_is_looked_up(demo_shop, known_as):
    # Shoppers copy the number as the confirmation e-mail shows it; order systems key by the whole
    # code or by its digits.
    demo_shop.orders.serve("customer-8", {known_as: ORDER["10452"]})
    bot, trace = reply_to(demo_shop, "has HP-10452 shipped yet?", verified="customer-8")
    assert (trace.route, trace.reason) == ("order", "looked_up")
    assert "Shipped" in bot.text and "1Z999AA10123456784" in bot.text
    assert_nothing_unsupported(bot.text, [])


def test_an_order_number_told_before_the_question_is_looked_up(demo_shop):
    # Read whole, the message is nearer cancelling an order; its first sentence reads as a look-up.
    demo_shop.orders.serve("customer-8", {"305117642": ORDER["10452"]})
    text = "I ordered over the phone last week, order number 305117642. Has it gone out yet?"
    bot, trace = reply_to(demo_shop, text, verified="customer-8")
    assert (trace.route, trace.reason) == ("order", "looked_up")
    assert "Shipped" in bot.text and "1Z999AA10123456784" in bot.text


def test_an_order_question_without_sign_in_asks_to_sign_in(demo_shop):
    bot, trace = reply_to(demo_shop, "wher is my ordr #10452", verified="")
    assert (trace.route, trace.reason) == ("order", "unverified")
    assert bot.text == phrases.SIGN_IN_FOR_ORDERS and "Shipped" not in bot.text


def test_a_message_in_another_language_goes_to_a_person(demo_shop):
    bot, trace = reply_to(demo_shop, "¿Puedo devolver un artículo sin recibo?")
    assert (trace.route, trace.reason) == ("handoff", "other_language")
    assert bot.text.startswith(phrases.OPENERS["other_language"]) and "(Source:" not in bot.text
    assert_nothing_unsupported(bot.text, [])


def test_a_complaint_is_handed_over_in_words_that_fit_it(demo_shop):
    bot, trace = reply_to(demo_shop, "my boots fell apart after 3 weeks, this is ridiculous")
    assert (trace.route, trace.reason) == ("handoff", "complaint")
    assert bot.text.startswith("I'm sorry to hear that.")
    assert "I don't have information" not in bot.text


def test_without_a_knowledge_base_the_model_shows_nothing_no_source_supports(transactional_db):
    store = Store.objects.create(name="Bare Shop", slug="bare-shop")
    bot, trace = reply_to(store, "Do you ship to Canada, and how fast?")
    assert_nothing_unsupported(bot.text, [f"This is {store.name}."])
    if trace.route == "handoff":  # nothing the model said was supported
        assert trace.reason == "nothing_supported" and trace.dropped_sentences


def test_an_order_number_asked_of_a_shop_without_an_order_system_goes_to_a_person(demo_shop):
    demo_shop.integration.delete()
    bot, trace = reply_to(demo_shop, "wher is my ordr #10452")
    assert (trace.route, trace.reason) == ("handoff", "no_order_system")
    assert bot.text.startswith(phrases.OPENERS["no_order_system"]) and "(Source:" not in bot.text
    assert Conversation.objects.get(pk=bot.conversation_id).state == Conversation.State.ESCALATED
