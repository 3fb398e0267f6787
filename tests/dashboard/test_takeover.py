"""Takeover stops the bot at once: a reply the real engine (default model, in this process) is
generating is aborted mid-generation, the widget is told a person joined and gets the staff
message, and no further bot reply is produced while staff hold the conversation.

A shopper reads only sentences a source supports, each once it is checked: while the model writes,
the widget shows "typing". This store has no articles, so only its own settings are sources and a
300-token guide gives the model seconds of generation in which nothing can be shown; the takeover
lands once the engine has generated some of it."""

import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from dashboard_sockets import say, widget
from django.db import connection
from django.test import override_settings

from chatbot.conversations import outcomes, replies, services
from chatbot.conversations.models import Conversation, Message
from chatbot.dashboard import staffing
from chatbot.engine import get_engine

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MAX_TOKENS = 300
LONG_ANSWER = (
    "Write a long, detailed guide to choosing rain boots, with at least ten numbered tips."
)


@override_settings(REPLY_MAX_TOKENS=MAX_TOKENS, REPLY_TEMPERATURE=0.0)
async def test_takeover_aborts_the_generating_reply_and_the_widget_sees_the_person(
    store_a, agent_a
):
    engine = await sync_to_async(get_engine)()  # load the model before the clock matters
    shopper = widget(store_a)
    assert await shopper.connect()
    await shopper.send(say(LONG_ANSWER))
    await shopper.until(lambda f: f["type"] == "ack")
    chat = await Conversation.objects.aget(pk=shopper.first["conversation"])

    def generate_reply():  # what a Celery worker thread runs for the reply task
        try:
            replies.answer_pending(chat.pk)
        finally:
            connection.close()

    generated_before = engine.generation_tokens_total
    worker = threading.Thread(target=generate_reply)
    worker.start()
    await shopper.until(lambda f: f["type"] == "typing", timeout=120)
    deadline = time.monotonic() + 120
    while engine.generation_tokens_total - generated_before < 3:  # the model is writing the reply
        assert worker.is_alive() and time.monotonic() < deadline, "the reply was not generated"
        await asyncio.sleep(0.01)

    taken_at = time.monotonic()
    await sync_to_async(outcomes.take_over)(chat, agent_a)
    frames = await shopper.until(lambda f: f["type"] in ("done", "stopped"), timeout=30)
    stopped_after = time.monotonic() - taken_at
    if not any(f["type"] == "staff_joined" for f in frames):  # the two frames race
        frames += await shopper.until(lambda f: f["type"] == "staff_joined", timeout=30)
    await asyncio.to_thread(worker.join, 30)
    assert not worker.is_alive()
    generated = engine.generation_tokens_total - generated_before
    await asyncio.sleep(0.5)
    assert engine.generation_tokens_total - generated_before == generated, "the engine went on"
    assert not engine.has_work()

    joined = [f for f in frames if f["type"] == "staff_joined"]
    assert joined and joined[0]["message"]["text"] == "Alex joined the chat."
    # Cut before any sentence was shown: the widget is told the reply stopped, and neither the
    # model's text nor a hand-over of the bot's reaches it, and nothing is stored as said.
    ends = [f["type"] for f in frames if f["type"] in ("done", "stopped")]
    assert ends == ["stopped"], f"the reply was not stopped: {frames}"
    assert not [f for f in frames if f["type"] == "delta"]
    assert 3 <= generated < MAX_TOKENS
    assert not await Message.objects.filter(conversation=chat, role="bot").aexists()
    assert (await Conversation.objects.aget(pk=chat.pk)).state == Conversation.State.HUMAN
    assert stopped_after < 3.0, f"the reply went on for {stopped_after:.1f} s after the takeover"
    print(f"takeover to end of stream: {stopped_after:.2f} s, {generated} tokens generated")

    # Staff hold the conversation: a new shopper message gets no bot reply.
    await shopper.send(say("Hello? Are they waterproof?"))
    await shopper.until(lambda f: f["type"] == "ack")
    assert not await sync_to_async(services.request_reply)(chat.pk)
    assert await sync_to_async(replies.answer_pending)(chat.pk) is None
    assert not await Message.objects.filter(conversation=chat, role="bot").aexists()

    sent = await sync_to_async(staffing.send_staff_message)(chat, agent_a, "Yes, fully waterproof.")
    frame = (await shopper.until(lambda f: f["type"] == "message"))[-1]
    assert frame["message"] == sent.as_frame()
    await shopper.close()
