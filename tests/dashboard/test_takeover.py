"""Takeover stops the bot at once: a reply streaming from the real engine (default model, in this
process) is aborted mid-stream, the widget is told a person joined and gets the staff message, and
no further bot reply is produced while staff hold the conversation."""

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
async def test_takeover_aborts_the_streaming_reply_and_the_widget_sees_the_person(store_a, agent_a):
    await sync_to_async(get_engine)()  # load the model before the clock matters
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

    worker = threading.Thread(target=generate_reply)
    worker.start()
    await shopper.until(lambda f: f["type"] == "delta" and f["seq"] >= 2, timeout=120)

    taken_at = time.monotonic()
    await sync_to_async(outcomes.take_over)(chat, agent_a)
    frames = await shopper.until(lambda f: f["type"] in ("done", "stopped"), timeout=30)
    stopped_after = time.monotonic() - taken_at
    await asyncio.to_thread(worker.join, 30)
    assert not worker.is_alive()

    joined = [f for f in frames if f["type"] == "staff_joined"]
    assert joined and joined[0]["message"]["text"] == "Alex joined the chat."
    assert frames[-1]["type"] == "done", "the partial reply is stored and sent as it was cut"
    reply = await Message.objects.aget(conversation=chat, role="bot")
    assert reply.finish_reason == "abort"
    assert reply.text == frames[-1]["text"] and reply.text.strip()
    assert 2 < reply.completion_tokens < MAX_TOKENS
    assert reply.shared_engine_seconds > 0  # the time it did use is billed
    assert stopped_after < 3.0, f"the reply went on for {stopped_after:.1f} s after the takeover"
    print(f"takeover to end of stream: {stopped_after:.2f} s, {reply.completion_tokens} tokens")

    # Staff hold the conversation: a new shopper message gets no bot reply.
    await shopper.send(say("Hello? Are they waterproof?"))
    await shopper.until(lambda f: f["type"] == "ack")
    assert not await sync_to_async(services.request_reply)(chat.pk)
    assert await sync_to_async(replies.answer_pending)(chat.pk) is None
    assert await Message.objects.filter(conversation=chat, role="bot").acount() == 1

    sent = await sync_to_async(staffing.send_staff_message)(chat, agent_a, "Yes, fully waterproof.")
    frame = (await shopper.until(lambda f: f["type"] == "message"))[-1]
    assert frame["message"] == sent.as_frame()
    await shopper.close()
