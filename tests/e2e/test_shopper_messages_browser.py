"""The six shopper messages of issue 14, each typed by a new shopper (a new browser context) into
the demo shop's widget in a real Chromium, answered by the running product (the live stack: its
web process, its reply worker and the default model) on the demo store that `seed_demo` makes.

What is asserted is what a store owner would accept, judged from the product's own sources of truth,
never from reply strings copied from a run: every sentence the shopper reads is one of the
product's fixed phrases (`phrases`) or supported by the store's articles (`support`, judged the way
`evaluation.judge` judges what a shopper was shown); the figures an answer must carry are read from
the seeded articles; hand-overs, refusals and routes are read from the conversation and its
`ReplyTrace`. The text rendered in the widget is the stored bot message, as text.
"""

import re
import time
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect
from reliability.widget_page import SHOPPER_ID, WIDGET

from chatbot.assistant import evaluation, intents, phrases, spelling, support
from chatbot.assistant.models import ReplyTrace
from chatbot.assistant.policy import Route
from chatbot.conversations.models import Conversation, Message
from chatbot.knowledge.models import Article
from chatbot.knowledge.passages import sentences as passage_sentences
from chatbot.shop import demo

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPLY_TIMEOUT_MS = 180_000
HANDED_OVER = (Conversation.State.ESCALATED, Conversation.State.HUMAN)
# A return window as an article states it ("within 30 days").
DAYS = re.compile(r"\b\d+ days\b")
# An express-shipping price as an article would state it ("Express shipping ... $14.95").
EXPRESS_PRICE = re.compile(r"\bexpress\b[^.\n]*?([$€£]\d+(?:[.,]\d\d)?)", re.IGNORECASE)
ABOUT_CANADA = re.compile(r"\bCanad|\binternational", re.IGNORECASE)


@dataclass
class Seen:
    """One shopper's message and what the shopper was shown, with what the product stored."""

    asked: str
    shown: str
    bot: Message
    trace: ReplyTrace
    conversation: Conversation
    judged: evaluation.Judged
    system_notes: list[str]

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.judged.fixed]

    @property
    def supported(self) -> list[str]:
        """The sentences that are not fixed phrases and that the articles support."""
        return [
            s
            for s in phrases.sentences(self.shown)
            if phrases.kind_of(s) is None and s not in self.judged.unsupported
        ]

    def __str__(self) -> str:
        return (
            f"{self.asked!r} -> {self.shown!r} (route {self.trace.route}, reason "
            f"{self.trace.reason!r}, state {self.conversation.state}, judged {self.judged}, "
            f"model sentences dropped {self.trace.dropped_sentences})"
        )


def article(store, title: str) -> Article:
    return Article.objects.get(store=store, title=title)


def article_texts(store) -> list[str]:
    return list(Article.objects.filter(store=store).values_list("body", flat=True))


def sources_of(store) -> support.Sources:
    """What a reply on the demo store may state: its articles and its name (it has no order system
    or order records), as `evaluation` builds a scenario's sources."""
    return support.Sources([*article_texts(store), f"This is {store.name}."])


def asked_as_read(store, text: str) -> str:
    """The shopper's words with typos corrected to the store's words, as the assistant and the
    evaluation read them (MiniLM cannot read "wher is my ordr")."""
    words = frozenset(w.lower() for w in re.findall(r"[A-Za-z]+", "\n".join(article_texts(store))))
    return spelling.correct(text, words | intents.VOCABULARY)


def wait_until_worker_done(conversation: Conversation) -> Conversation:
    """The worker releases the reply lease after its after-reply hooks (a hand-over the reply's
    words announce): only then is the conversation's state final for this message."""
    deadline = time.monotonic() + 30
    conversation.refresh_from_db()
    while conversation.reply_lease_token is not None:
        assert time.monotonic() < deadline, "the worker still holds the reply lease after 30 s"
        time.sleep(0.2)
        conversation.refresh_from_db()
    return conversation


def ask(browser, live_stack, store, text: str) -> Seen:
    """A new shopper opens the demo shop, sends `text` in the widget and reads the reply."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{live_stack.base_url}/")
        expect(page.locator("h1")).to_have_text(demo.NAME)
        page.locator(f"{WIDGET} .launcher").click()
        expect(page.locator(f"{WIDGET} .status")).to_have_text("", timeout=15_000)  # connected
        page.locator(f"{WIDGET} textarea").fill(text)
        page.locator(f"{WIDGET} textarea").press("Enter")
        expect(page.locator(f"{WIDGET} .msg.shopper")).to_have_text(text)
        answer = page.locator(f"{WIDGET} .msg.bot:not(.streaming)")
        expect(answer).to_be_visible(timeout=REPLY_TIMEOUT_MS)
        shown = answer.evaluate("node => node.textContent")

        shopper = page.evaluate(SHOPPER_ID)
        conversation = wait_until_worker_done(
            Conversation.objects.get(store=store, shopper_id=shopper)
        )
        bot = conversation.messages.get(role=Message.Role.BOT)  # one message, one reply
        notes = list(
            conversation.messages.filter(role=Message.Role.SYSTEM)
            .order_by("pk")
            .values_list("text", flat=True)
        )
        # What the widget rendered is the stored reply, as text (model text is never HTML).
        assert shown == bot.text, (shown, bot.text)
        assert (
            page.evaluate(
                f"document.querySelector('{WIDGET}').shadowRoot"
                ".querySelectorAll('.log .msg.bot *').length"
            )
            == 0
        ), "the reply was rendered as markup"
        # Whatever the product told the shopper besides the reply (a hand-over note) is shown as is;
        # no error note appeared.
        expect(page.locator(f"{WIDGET} .msg.system")).to_have_count(len(notes))
        if notes:
            expect(page.locator(f"{WIDGET} .msg.system")).to_have_text(notes)
        expect(page.locator(f"{WIDGET} .msg.note")).to_have_count(0)
    finally:
        context.close()
    judged = evaluation.judge(bot.text, asked_as_read(store, text), sources_of(store))
    seen = Seen(text, shown, bot, ReplyTrace.objects.get(message=bot), conversation, judged, notes)
    print(seen)
    return seen


def assert_nothing_unsupported(seen: Seen, store) -> None:
    """Every sentence shown is a fixed phrase or supported; every link and e-mail address is one
    the articles contain."""
    assert seen.judged.unsupported == [], f"unsupported sentences shown: {seen}"
    articles = "\n".join(article_texts(store)).lower()
    for pattern in (support.LINK, support.EMAIL):
        for match in pattern.finditer(seen.shown):
            address = match.group(0).rstrip(".,;:!?").lower()
            assert address in articles, f"{address!r} is in no article: {seen}"


def assert_not_refused(seen: Seen) -> None:
    assert seen.trace.route != Route.REFUSAL, f"refused: {seen}"
    assert "refusal" not in seen.kinds, f"refused: {seen}"


def assert_handed_over(seen: Seen) -> None:
    assert seen.trace.route == Route.HANDOFF, f"not handed over: {seen}"
    assert seen.conversation.state in HANDED_OVER, f"not handed over: {seen}"
    assert seen.system_notes, f"the shopper was not told a person will answer: {seen}"


def assert_quotes_no_article(seen: Seen, store) -> None:
    assert "source" not in seen.kinds, f"an article was cited: {seen}"
    for text in article_texts(store):
        for sentence in passage_sentences(text):
            assert sentence.rstrip(".") not in seen.shown, f"{sentence!r} was quoted: {seen}"


def test_rules_for_returns_is_answered_with_the_return_window(browser, live_stack, live_demo_store):
    store = live_demo_store
    window = DAYS.search(article(store, "Returns").body)
    assert window, "the demo's Returns article states no return window"

    seen = ask(browser, live_stack, store, "hi, what are the rules for returns?")

    assert_not_refused(seen)
    assert phrases.FORGED_PROMPT not in seen.shown
    assert seen.trace.route == Route.ANSWER, seen
    assert seen.conversation.state == Conversation.State.BOT, f"handed over: {seen}"
    assert phrases.ABSTAIN not in seen.kinds, seen
    assert any(window.group(0) in s for s in seen.judged.answering), (
        f"no answering sentence states the return window {window.group(0)!r}: {seen}"
    )
    assert_nothing_unsupported(seen, store)


@pytest.mark.xfail(
    strict=True,
    reason="The demo's Shipping article prices neither express shipping nor Canada, and retrieval "
    "cannot tell 'express shipping' from the shipping it prices: the shopper reads the standard "
    "price (supported, beside the point) instead of 'this part is not covered' (issue 14).",
)
def test_two_questions_in_one_message_are_each_answered_or_named_as_not_covered(
    browser, live_stack, live_demo_store
):
    store = live_demo_store
    shipping = article(store, "Shipping").body

    seen = ask(
        browser,
        live_stack,
        store,
        "Do you ship to Canada, and how much does express shipping cost?",
    )

    assert_not_refused(seen)
    assert_nothing_unsupported(seen, store)
    not_covered = [s for kind, s in seen.judged.fixed if kind == phrases.ABSTAIN]
    missing = []  # both parts are checked, so a failure names every part left unanswered
    price = EXPRESS_PRICE.search(shipping)
    if price:  # the article prices express shipping: the answer states that price
        if not any(price.group(1) in s for s in seen.judged.answering):
            missing.append(f"the Shipping article's express price {price.group(1)!r} is not stated")
    elif not any(re.search(r"\bexpress\b", s, re.IGNORECASE) for s in not_covered):
        # The seeded Shipping article prices no express shipping: the reply must say that this
        # part is not covered (the standard shipping price is not an express price).
        missing.append("the express question is neither answered nor named as not covered")
    # Canada: a supported sentence about Canada or international delivery, or the fixed
    # "this part is not covered" phrase naming it.
    if not (
        any(ABOUT_CANADA.search(s) for s in seen.supported)
        or any("Canada" in s for s in not_covered)
    ):
        missing.append("nothing is said about shipping to Canada")
    assert not missing, f"{'; '.join(missing)}: {seen}"


def test_a_topic_the_shop_does_not_cover_gets_an_honest_i_dont_know_and_a_person(
    browser, live_stack, live_demo_store
):
    store = live_demo_store
    # The uncovered topic: gift cards, which none of the seeded articles mention.
    assert not any(re.search(r"gift", t, re.IGNORECASE) for t in article_texts(store)), (
        "the demo's articles now cover gift cards: ask about something they do not cover"
    )

    seen = ask(browser, live_stack, store, "Do you sell gift cards?")

    assert seen.judged.abstained, f"the bot did not say it does not know: {seen}"
    assert_handed_over(seen)
    assert_quotes_no_article(seen, store)
    assert_nothing_unsupported(seen, store)


def test_an_order_question_with_typos_reaches_the_order_route(browser, live_stack, live_demo_store):
    store = live_demo_store

    seen = ask(browser, live_stack, store, "wher is my ordr #10452")

    assert_not_refused(seen)
    if hasattr(store, "integration"):
        assert seen.trace.route == Route.ORDER, f"not on the order route: {seen}"
    else:  # the shop as seeded has no order system to ask: a person looks the order up
        assert seen.trace.reason == "no_order_system", f"not read as an order question: {seen}"
        assert_handed_over(seen)
    # An order wording (sign in, give the order number, or cannot look it up here), not an
    # answer from the articles.
    assert "order" in seen.kinds, f"no order wording: {seen}"
    assert "source" not in seen.kinds, f"answered from an article: {seen}"
    assert_nothing_unsupported(seen, store)


def test_a_message_in_another_language_goes_to_a_person(browser, live_stack, live_demo_store):
    store = live_demo_store

    # The product's own expectation for this message (eval_scenarios/harbor-pine-extra.jsonl,
    # kind non_english): it is handed over, not answered from English articles.
    seen = ask(browser, live_stack, store, "¿Puedo devolver un artículo sin recibo?")

    assert_not_refused(seen)
    assert_handed_over(seen)
    assert_quotes_no_article(seen, store)
    assert_nothing_unsupported(seen, store)


def test_a_complaint_is_handed_over_in_words_that_fit_it(browser, live_stack, live_demo_store):
    store = live_demo_store

    seen = ask(browser, live_stack, store, "my boots fell apart after 3 weeks, this is ridiculous")

    assert_not_refused(seen)
    assert_handed_over(seen)
    assert seen.trace.reason == "complaint", f"not handed over as a complaint: {seen}"
    assert phrases.ABSTAIN not in seen.kinds, f"worded as not knowing: {seen}"
    assert seen.shown.startswith(phrases.OPENERS["complaint"]), seen
    assert_quotes_no_article(seen, store)
    assert_nothing_unsupported(seen, store)
