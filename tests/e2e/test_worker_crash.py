"""acks_late + the reply lease: a worker killed mid-reply does not lose the shopper's message."""

import pytest
from live_chat import LiveChat

from chatbot.conversations.models import Conversation, Message

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_reply_is_replaced_and_the_message_answered(live_stack, live_store):
    if live_stack.embedded:
        pytest.skip("a separate worker process needs the production wiring (REDIS_URL)")
    chat = LiveChat(live_stack, live_store)
    chat.say("Tell me about your rain jackets.")
    before = chat.until(lambda f: f["type"] == "delta")
    ack = next(f for f in before if f["type"] == "ack")
    live_stack.kill_worker()
    live_stack.start_worker()
    # Redelivered after the visibility timeout; answered once the dead worker's lease lapsed.
    after = chat.until_done(timeout=240)
    done = after[-1]
    assert done["reply_id"] != before[-1]["reply_id"]
    deltas = [f for f in after if f["type"] == "delta" and f["reply_id"] == done["reply_id"]]
    assert "".join(d["text"] for d in deltas) == done["text"]

    bots = Message.objects.filter(conversation_id=chat.conversation, role="bot")
    assert [b.text for b in bots] == [done["text"]]
    assert Message.objects.filter(conversation_id=chat.conversation, role="shopper").count() == 1
    assert Conversation.objects.get(pk=chat.conversation).answered_through == ack["message_id"]
    chat.close()
