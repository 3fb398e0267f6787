"""Redis restarts (and comes back empty: no persistence) under a running product: the widget
reconnects, what the shopper wrote meanwhile goes through, and the conversation resyncs from the
database. It runs on a Redis server of its own, never the shared one."""

import re

import pytest
from playwright.sync_api import expect

from chatbot.conversations.models import Conversation, Message

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDGET = "#parley-chat"


def say(page, text: str) -> None:
    page.locator(f"{WIDGET} textarea").fill(text)
    page.locator(f"{WIDGET} textarea").press("Enter")


def test_widgets_reconnect_and_resync_after_redis_restarts(browser, own_redis_stack, demo_store):
    stack, redis = own_redis_stack
    demo_store.allowed_origins.append(stack.origin)
    demo_store.save()
    page = browser.new_page()
    page.goto(f"{stack.base_url}/")
    page.locator(f"{WIDGET} .launcher").click()
    say(page, "Do you ship to Canada?")
    answers = page.locator(f"{WIDGET} .msg.bot:not(.streaming)")
    unsent = page.locator(f"{WIDGET} .msg.shopper.sending")
    expect(answers).to_have_count(1, timeout=120_000)

    # Written while Redis is down: kept in the widget's outbox, sent once it reconnected.
    redis.crash()
    status = page.locator(f"{WIDGET} .status")
    expect(status).to_have_text(re.compile("offline|reconnecting"), timeout=30_000)
    say(page, "How long does delivery take?")
    redis.start()
    expect(unsent).to_have_count(0, timeout=90_000)
    expect(answers).to_have_count(2, timeout=120_000)

    # Stored and queued, then the queue is lost with Redis: the widget's reconnect queues it again.
    stack.kill_worker()
    say(page, "Can I return boots I have worn once?")
    expect(unsent).to_have_count(0, timeout=30_000)
    redis.crash()
    redis.start()
    stack.start_worker()
    expect(answers).to_have_count(3, timeout=120_000)

    conversation = Conversation.objects.get(store=demo_store)
    stored = list(conversation.messages.values_list("role", "text"))
    assert [text for role, text in stored if role == "shopper"] == [
        "Do you ship to Canada?",
        "How long does delivery take?",
        "Can I return boots I have worn once?",
    ]
    assert [role for role, _ in stored].count("bot") == 3
    assert conversation.answered_through == conversation.messages.filter(role="shopper").last().pk

    page.reload()  # a fresh page: everything shown comes back from the database
    shown = page.locator(f"{WIDGET} .msg.shopper, {WIDGET} .msg.bot")
    expect(shown).to_have_count(len(stored), timeout=30_000)
    assert shown.evaluate_all("nodes => nodes.map(n => n.textContent)") == [t for _, t in stored]
    assert Message.objects.filter(conversation__store=demo_store).count() == len(stored)
    page.close()
