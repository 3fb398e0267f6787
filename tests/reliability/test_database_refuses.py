"""The database refuses a write: the shopper is told, nothing is half-stored, and resending the same
message (same client_msg_id, as the widget does) stores it exactly once."""

import pytest
from asgiref.sync import sync_to_async
from live_chat import LiveChat
from playwright.sync_api import expect
from refusals import refused_inserts
from socket_client import Client
from widget_page import open_staffed_conversation

from chatbot.conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)

count_messages = sync_to_async(lambda: Message.objects.count())
count_conversations = sync_to_async(lambda: Conversation.objects.count())


async def test_a_refused_shopper_message_gets_an_error_and_its_resend_is_stored_once(store, caplog):
    client = Client(store.widget_key)
    assert await client.connect()
    frame = {"type": "message", "client_msg_id": "m-1", "text": "Do you ship to Canada?"}
    refusal = refused_inserts("conversations_message")
    await sync_to_async(refusal.__enter__)()
    try:
        await client.send(frame)
        error = await client.receive()
        await client.send(frame)  # resent while the database still refuses
        again = await client.receive()
    finally:
        await sync_to_async(refusal.__exit__)(None, None, None)
    for failed in (error, again):
        assert failed["type"] == "error" and failed["code"] == "unavailable"
        assert failed["client_msg_id"] == "m-1" and failed["retry_after"] > 0
        assert failed["message"]
    assert await count_messages() == 0
    assert await count_conversations() == 0, "a refused first message starts no conversation"
    assert "insert refused" in caplog.text  # the cause is in the log, not in the frame
    assert "insert refused" not in error["message"]

    await client.send(frame)
    started = await client.receive()  # the stored first message starts the conversation
    assert started["type"] == "started", started
    ack = await client.receive()
    await client.send(frame)
    duplicate = await client.receive()
    assert (ack["type"], ack["duplicate"]) == ("ack", False)
    assert (duplicate["message_id"], duplicate["duplicate"]) == (ack["message_id"], True)
    assert await count_messages() == 1
    stored = await sync_to_async(Message.objects.get)(pk=ack["message_id"])
    assert stored.conversation_id == started["conversation"]
    assert await count_conversations() == 1
    await client.close()


@pytest.mark.slow
def test_a_refused_reply_is_reported_and_the_resend_gets_it_answered_once(live_stack, live_store):
    if live_stack.embedded:
        pytest.skip("needs the production wiring (REDIS_URL)")
    chat = LiveChat(live_stack, live_store)
    with refused_inserts("conversations_message", when="NEW.role = 'bot'"):
        client_msg_id = chat.say("Do you sell umbrellas?")
        frames = chat.until(lambda f: f["type"] in ("error", "done"), timeout=120)
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "reply_failed"
    assert not Message.objects.filter(role="bot").exists()

    chat.say("Do you sell umbrellas?", client_msg_id=client_msg_id)  # the shopper tries again
    frames = chat.until_done(timeout=120)
    ack = next(f for f in frames if f["type"] == "ack")
    assert ack["duplicate"] is True
    shopper = Message.objects.get(role="shopper")
    assert shopper.pk == ack["message_id"]
    bot = Message.objects.get(role="bot")
    assert bot.text == frames[-1]["text"]
    assert Conversation.objects.get(pk=chat.conversation).answered_through == shopper.pk
    chat.close()


@pytest.mark.slow
@pytest.mark.browser
def test_the_widget_resends_a_refused_message_by_itself(browser, live_stack, demo_store):
    demo_store.allowed_origins.append(live_stack.origin)
    demo_store.save()
    page = browser.new_page()
    page.goto(f"{live_stack.base_url}/")
    # Staff answer this one: the test is about storing the shopper's message, not the model.
    conversation = open_staffed_conversation(page, demo_store)
    with refused_inserts("conversations_message"):
        page.locator("#parley-chat textarea").fill("Do you ship to Norway?")
        page.locator("#parley-chat textarea").press("Enter")
        expect(page.locator("#parley-chat .msg.note")).to_contain_text("could not be saved")
        expect(page.locator("#parley-chat .msg.shopper.sending")).to_have_count(1)
    expect(page.locator("#parley-chat .msg.shopper.sending")).to_have_count(0, timeout=15_000)
    assert list(Message.objects.values_list("text", flat=True)) == ["Do you ship to Norway?"]
    assert Message.objects.get().conversation_id == conversation.pk
    page.close()
