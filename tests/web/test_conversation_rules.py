"""Conversation rules without a socket: the reply lease, storing messages, building prompts."""

import json
import uuid
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from chatbot.conversations import leases, prompt, services
from chatbot.conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(store):
    return Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)


def test_one_lease_holder_at_a_time(conversation):
    first, second = uuid.uuid4(), uuid.uuid4()
    assert leases.acquire(conversation.pk, first)
    assert not leases.acquire(conversation.pk, second)
    assert 0 < leases.seconds_left(conversation.pk) <= 60
    assert leases.renew(conversation.pk, first)
    assert not leases.renew(conversation.pk, second)
    leases.release(conversation.pk, second)  # not the holder: no effect
    assert not leases.acquire(conversation.pk, second)
    leases.release(conversation.pk, first)
    assert leases.seconds_left(conversation.pk) is None
    assert leases.acquire(conversation.pk, second)


def test_a_lapsed_lease_is_taken_over_and_its_old_holder_cannot_renew(conversation):
    dead, alive = uuid.uuid4(), uuid.uuid4()
    assert leases.acquire(conversation.pk, dead)
    Conversation.objects.filter(pk=conversation.pk).update(
        reply_lease_expires=timezone.now() - timedelta(seconds=1)
    )
    assert leases.seconds_left(conversation.pk) is None
    assert leases.acquire(conversation.pk, alive)
    assert not leases.renew(conversation.pk, dead)
    assert leases.renew(conversation.pk, alive)


def test_messages_wait_for_a_reply_until_answered_through_covers_them(conversation):
    assert not services.needs_reply(conversation.pk)
    first, _ = services.receive_shopper_message(conversation, "m1", "Hi")
    second, _ = services.receive_shopper_message(conversation, "m2", "Anyone?")
    conversation.refresh_from_db()
    assert list(services.unanswered(conversation)) == [first, second]
    Conversation.objects.filter(pk=conversation.pk).update(answered_through=first.pk)
    conversation.refresh_from_db()
    assert list(services.unanswered(conversation)) == [second]
    Conversation.objects.filter(pk=conversation.pk).update(state=Conversation.State.HUMAN)
    assert not services.needs_reply(conversation.pk)  # staff answer it


def test_writing_to_a_resolved_conversation_reopens_it_for_the_bot(conversation):
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.RESOLVED, last_activity=F("created")
    )
    before = Conversation.objects.get(pk=conversation.pk).last_activity
    services.receive_shopper_message(conversation, "m1", "One more thing")
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.BOT
    assert conversation.last_activity > before


def test_open_conversation_reuses_the_shoppers_open_one(store):
    shopper = uuid.uuid4().hex
    first = services.open_conversation(store, shopper, None)
    assert services.open_conversation(store, shopper, None) == first
    Conversation.objects.filter(pk=first.pk).update(state=Conversation.State.RESOLVED)
    fresh = services.open_conversation(store, shopper, None)
    assert fresh != first
    assert services.open_conversation(store, shopper, first.pk) == first  # asked for by id


def test_store_for_widget_checks_key_and_origin(store):
    assert services.store_for_widget(store.widget_key, "https://shop.example") == store
    assert services.store_for_widget(store.widget_key, "HTTPS://SHOP.EXAMPLE/") == store
    assert services.store_for_widget(store.widget_key, "https://shop.example.evil") is None
    assert services.store_for_widget(store.widget_key, "") is None
    assert services.store_for_widget("pk_nope", "https://shop.example") is None


def _messages(conversation, pairs):
    return [
        Message.objects.create(conversation=conversation, role=role, text=text)
        for role, text in pairs
    ]


def test_turns_merge_consecutive_messages_and_skip_system_notes(conversation):
    stored = _messages(
        conversation,
        [
            ("shopper", "Hi"),
            ("shopper", "Do you ship to Canada?"),
            ("system", "Conversation escalated"),
            ("bot", "Yes."),
            ("staff", "And it is free over $75."),
            ("shopper", "Great"),
        ],
    )
    assert prompt.turns(stored) == [
        {"role": "user", "content": "Hi\n\nDo you ship to Canada?"},
        {"role": "assistant", "content": "Yes.\n\nAnd it is free over $75."},
        {"role": "user", "content": "Great"},
    ]


def characters(messages) -> int:
    """A stand-in tokenizer for budget arithmetic: one token per character of the JSON."""
    return len(json.dumps(messages))


def test_fit_keeps_the_newest_turns_that_fit_and_opens_with_the_user():
    history = [
        {"role": "user", "content": "a" * 100},
        {"role": "assistant", "content": "b" * 100},
        {"role": "user", "content": "c" * 100},
        {"role": "assistant", "content": "d" * 100},
        {"role": "user", "content": "e" * 100},
    ]
    everything = prompt.fit("Persona", history, characters, budget=10_000)
    assert everything[1:] == history
    assert everything[0] == {"role": "system", "content": "Persona"}

    budget = characters(prompt.fit("Persona", history[-3:], characters, 10_000))
    fitted = prompt.fit("Persona", history, characters, budget)
    assert fitted[1:] == history[-3:]
    # One character less: the assistant turn that would now open the dialogue goes too.
    assert prompt.fit("Persona", history, characters, budget - 1)[1:] == history[-1:]


def test_fit_cuts_the_start_of_a_last_message_too_long_for_the_context():
    long_text = "x" * 3000 + " so what is the return window?"
    fitted = prompt.fit("P", [{"role": "user", "content": long_text}], characters, budget=500)
    assert characters(fitted) <= 500
    assert fitted[-1]["content"].endswith("so what is the return window?")
