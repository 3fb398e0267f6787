"""The outcome state machine: escalation (shopper, bot, staff), hand back, staff resolution, the
shopper's rating, and the inactivity task that decides how quiet conversations ended."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from dashboard_data import conversation
from dashboard_sockets import say, widget
from django.test import override_settings
from django.utils import timezone

from chatbot.conversations import outcomes, services
from chatbot.conversations.models import Conversation, ConversationInfo, Message
from chatbot.dashboard import staffing
from chatbot.dashboard.tasks import close_inactive_conversations
from chatbot.stores.models import SupportHours

pytestmark = pytest.mark.django_db(transaction=True)
State = Conversation.State


@pytest.mark.parametrize(
    "text, asks",
    [
        ("Can I talk to a human please?", True),
        ("I want to speak with someone", True),
        ("real person!!", True),
        ("Let me chat with an agent", True),
        ("Is this jacket good for a person of 6 feet?", False),
        ("Do you sell human-sized tents?", False),
    ],
)
def test_asking_for_a_person(text, asks):
    assert outcomes.asks_for_person(text) is asks


def quiet(minutes: int):
    return timezone.now() - timedelta(minutes=minutes)


@override_settings(CONVERSATION_INACTIVE_MINUTES=30)
def test_the_inactivity_task_gives_each_quiet_dialogue_its_outcome(store_a):
    old = quiet(45)
    answered = conversation(
        store_a, [("shopper", "Hi", None), ("bot", "Hello!", None)], last_activity=old
    )
    unanswered = conversation(store_a, [("shopper", "Hello?", None)], last_activity=old)
    reasked = conversation(
        store_a,
        [("shopper", "Q1", None), ("bot", "A1", None), ("shopper", "Q2", None)],
        last_activity=old,
    )
    waited = conversation(
        store_a,
        [("shopper", "A person please", None), ("system", "Someone will join.", None)],
        state=State.ESCALATED,
        outcome=outcomes.Outcome.ESCALATED,
        last_activity=old,
    )
    staffed = conversation(
        store_a,
        [("shopper", "Refund?", None), ("staff", "Done, refunded.", None)],
        state=State.HUMAN,
        outcome=outcomes.Outcome.ESCALATED,
        last_activity=old,
    )
    handed_back = conversation(
        store_a,
        [("shopper", "x", None), ("staff", "y", None), ("shopper", "z", None), ("bot", "w", None)],
        outcome=outcomes.Outcome.ESCALATED,
        last_activity=old,
    )
    recent = conversation(
        store_a, [("shopper", "Hi", None), ("bot", "Hello!", None)], last_activity=quiet(10)
    )
    replying = conversation(
        store_a,
        [("shopper", "Hi", None)],
        last_activity=old,
        reply_lease_token="6f1c8f3e-2c7b-4a53-9a53-2f8a4d8f0a11",
        reply_lease_expires=timezone.now() + timedelta(seconds=30),
    )
    empty = conversation(store_a, [], last_activity=old)

    counts = close_inactive_conversations()

    assert counts == {"resolved_bot": 1, "abandoned": 2, "escalated": 1, "resolved_staff": 2}
    expected = {
        answered: (State.RESOLVED, "resolved_bot"),
        unanswered: (State.ABANDONED, "abandoned"),
        reasked: (State.ABANDONED, "abandoned"),
        waited: (State.ABANDONED, "escalated"),
        staffed: (State.RESOLVED, "resolved_staff"),
        handed_back: (State.RESOLVED, "resolved_staff"),
        recent: (State.BOT, ""),
        replying: (State.BOT, ""),
        empty: (State.BOT, ""),
    }
    for chat, outcome in expected.items():
        chat.refresh_from_db()
        assert (chat.state, chat.outcome) == outcome, chat
    assert close_inactive_conversations() == {}  # nothing left to close


def test_a_new_message_after_the_read_keeps_the_conversation_open(store_a):
    chat = conversation(
        store_a, [("shopper", "Hi", None), ("bot", "Hello", None)], last_activity=quiet(120)
    )
    services.receive_shopper_message(chat, "late-1", "One more question")
    assert outcomes.close_inactive() == {}
    chat.refresh_from_db()
    assert chat.state == State.BOT


async def test_a_shopper_asking_for_a_person_is_escalated_and_not_answered(store_a):
    shopper = widget(store_a)
    assert await shopper.connect()
    await shopper.send(say("Can I speak to a real person?"))
    frames = await shopper.until(lambda f: f["type"] == "message")
    assert frames[-1]["message"]["role"] == "system"
    assert "person" in frames[-1]["message"]["text"]
    chat = await Conversation.objects.aget(pk=shopper.first["conversation"])
    assert (chat.state, chat.outcome) == (State.ESCALATED, "escalated")
    info = await ConversationInfo.objects.aget(conversation=chat)
    assert info.escalated_by == "shopper" and info.escalated_at is not None
    assert not await sync_to_async(services.needs_reply)(chat.pk)
    await shopper.close()


def test_outside_support_hours_the_shopper_is_told_when_a_person_answers(store_a):
    SupportHours.objects.create(store=store_a, weekdays=[], time_zone="Europe/Paris")
    chat = conversation(store_a, [("shopper", "hi", None)])
    assert outcomes.escalate(chat.pk, "shopper")
    note = chat.messages.get(role="system")
    assert note.text == "A person will answer during our support hours: no staffed hours."
    assert not outcomes.escalate(chat.pk, "shopper")  # once


def test_the_bot_saying_it_hands_over_escalates(store_a):
    chat = conversation(store_a, [("shopper", "My parcel is lost", None)])
    outcomes.after_bot_reply(chat.pk, "I'm sorry. I will connect you with a colleague.", "stop")
    chat.refresh_from_db()
    assert chat.state == State.ESCALATED
    assert ConversationInfo.objects.get(conversation=chat).escalated_by == "bot"
    other = conversation(store_a, [("shopper", "Hi", None)])
    outcomes.after_bot_reply(other.pk, "Let me connect you with", "abort")  # cut off: no decision
    other.refresh_from_db()
    assert other.state == State.BOT


def test_take_over_hand_back_and_resolve(store_a, agent_a):
    chat = conversation(store_a, [("shopper", "Q1", None)])
    assert outcomes.take_over(chat, agent_a)
    assert not outcomes.take_over(chat, agent_a)
    assert (chat.state, chat.outcome) == (State.HUMAN, "escalated")
    info = ConversationInfo.objects.get(conversation=chat)
    assert (info.escalated_by, info.assignee) == ("staff", agent_a)
    assert chat.messages.get(role="system").text == "Alex joined the chat."

    staffing.send_staff_message(chat, agent_a, "  Hi, Alex here.  ")
    services.receive_shopper_message(chat, "q2", "Q2")  # answered by staff, not the bot
    assert not services.needs_reply(chat.pk)
    assert outcomes.hand_back(chat)
    assert chat.state == State.BOT
    assert not services.needs_reply(chat.pk)  # earlier questions were the staff's
    services.receive_shopper_message(chat, "q3", "Q3")
    assert services.needs_reply(chat.pk)

    assert not outcomes.resolve_by_staff(chat, agent_a)  # the bot has it again
    outcomes.take_over(chat, agent_a)
    assert outcomes.resolve_by_staff(chat, agent_a)
    chat.refresh_from_db()
    assert (chat.state, chat.outcome) == (State.RESOLVED, "resolved_staff")
    staff_message = chat.messages.get(role="staff")
    assert staff_message.text == "Hi, Alex here."
    assert staff_message.staff_author.user == agent_a


async def rate(shopper, score) -> dict:
    await shopper.send({"type": "csat", "score": score})
    return (await shopper.until(lambda f: f["type"] in ("rated", "error")))[-1]


async def test_the_shoppers_rating_is_stored_and_a_high_one_confirms_the_bot(store_a):
    shopper = widget(store_a)
    assert await shopper.connect()
    await shopper.send(say("Do you ship to Canada?"))
    await shopper.until(lambda f: f["type"] == "ack")
    chat_id = shopper.first["conversation"]
    await Message.objects.acreate(conversation_id=chat_id, role="bot", text="Yes, in 5 days.")

    assert (await rate(shopper, 7))["code"] == "bad_score"
    assert (await rate(shopper, True))["code"] == "bad_score"
    chat = await Conversation.objects.aget(pk=chat_id)
    assert chat.csat is None

    assert await rate(shopper, 2) == {"type": "rated", "score": 2, "resolved": False}
    chat = await Conversation.objects.aget(pk=chat_id)
    assert (chat.csat, chat.state, chat.outcome) == (2, State.BOT, "")

    assert await rate(shopper, 5) == {"type": "rated", "score": 5, "resolved": True}
    chat = await Conversation.objects.aget(pk=chat_id)
    assert (chat.csat, chat.state, chat.outcome) == (5, State.RESOLVED, "resolved_bot")
    await shopper.close()


def test_a_rating_never_turns_an_escalated_dialogue_into_a_bot_resolution(store_a):
    chat = conversation(
        store_a,
        [("shopper", "Q", None), ("bot", "A", None)],
        outcome=outcomes.Outcome.ESCALATED,
    )
    assert not outcomes.record_csat(chat.pk, 5)
    chat.refresh_from_db()
    assert (chat.csat, chat.state, chat.outcome) == (5, State.BOT, "escalated")
    unanswered = conversation(store_a, [("shopper", "Q", None)])
    assert not outcomes.record_csat(unanswered.pk, 5)  # nothing to confirm yet


def test_beat_runs_the_inactivity_task_every_minute():
    from chatbot.celery import app

    entry = app.conf.beat_schedule["close-inactive-conversations"]
    assert entry["task"] in app.tasks and entry["schedule"] == 60.0
