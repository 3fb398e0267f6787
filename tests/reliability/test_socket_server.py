"""Hostile frames the ASGI server itself must stop (it runs as in production, with --ws-max-size):
invalid UTF-8, frames over the size limit, and handshakes from origins the store does not allow."""

import asyncio
import json
import time
import uuid

import pytest
import redis
from live_chat import LiveChat
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from chatbot.conversations.models import Conversation, Message
from chatbot.conversations.protocol import MAX_FRAME_BYTES, MAX_TEXT_CHARS

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def closed_code(chat: LiveChat) -> int:
    """Wait for the server to close the socket; the close code it gave."""
    with pytest.raises(ConnectionClosedError):
        while True:
            chat.receive(timeout=10)
    return chat.ws.protocol.close_rcvd.code


def staffed(stack, store) -> LiveChat:
    """A chat on a conversation a person answers: what it is sent costs no model reply."""
    shopper = uuid.uuid4().hex
    conversation = Conversation.objects.create(
        store=store, shopper_id=shopper, state=Conversation.State.HUMAN
    )
    return LiveChat(stack, store, shopper=shopper, conversation=conversation.pk)


def test_invalid_utf8_closes_only_that_socket(live_stack, live_store):
    bystander = staffed(live_stack, live_store)
    chat = LiveChat(live_stack, live_store)
    chat.ws.send(b'{"type": "message", "client_msg_id": "u1", "text": "\xff\xfe bad"}', text=True)
    assert closed_code(chat) == 1007  # invalid frame payload data
    bystander.say("Still open for me?")
    assert bystander.until(lambda f: f["type"] == "ack")[-1]["duplicate"] is False
    assert list(Message.objects.values_list("text", flat=True)) == ["Still open for me?"]
    bystander.close()


@pytest.mark.parametrize("fragments", [1, 8], ids=["one frame", "fragmented"])
def test_a_message_over_the_size_limit_closes_the_socket(live_stack, live_store, fragments):
    chat = LiveChat(live_stack, live_store)
    text = "x" * (MAX_FRAME_BYTES + 1000)
    frame = json.dumps({"type": "message", "client_msg_id": "big", "text": text})
    size = len(frame) // fragments + 1
    try:
        chat.ws.send([frame[i : i + size] for i in range(0, len(frame), size)])
    except ConnectionClosedError:
        pass  # a fast server closes the socket before the send returns
    assert closed_code(chat) == 1009  # message too big
    assert not Message.objects.exists()
    LiveChat(live_stack, live_store).close()  # the server takes new sockets


def test_the_longest_valid_message_fits_under_the_limit(live_stack, live_store):
    """4000 emoji, each JSON-escaped to 12 bytes, is the largest frame a widget sends."""
    chat = staffed(live_stack, live_store)
    chat.ws.send(
        json.dumps({"type": "message", "client_msg_id": "max", "text": "😀" * MAX_TEXT_CHARS})
    )
    ack = chat.until(lambda f: f["type"] in ("ack", "error"))[-1]
    assert ack["type"] == "ack"
    assert Message.objects.get(pk=ack["message_id"]).text == "😀" * MAX_TEXT_CHARS
    chat.close()


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://127.0.0.1", "http://127.0.0.1:1", None]
)
def test_a_handshake_from_an_origin_the_store_does_not_allow_is_refused(
    live_stack, live_store, origin
):
    with pytest.raises(InvalidStatus) as refused:
        connect(live_stack.ws_url(live_store.widget_key, "a" * 16), origin=origin, proxy=None)
    assert refused.value.response.status_code == 403
    assert not live_store.conversations.exists()


CROWD = 200


def test_a_crowd_arriving_and_leaving_at_once_is_served_and_cleaned_up(live_stack, live_store):
    """Every socket joins its conversation's channel-layer group on connect and leaves it on
    disconnect, all at the same moment: none may fail for want of a Redis connection."""
    if live_stack.embedded:
        pytest.skip("the Redis channel layer is what is tested")
    output_before = len(live_stack.web.output())
    # Shoppers coming back to their conversations (only those join a group on connect).
    returning = Conversation.objects.bulk_create(
        Conversation(store=live_store, shopper_id=uuid.uuid4().hex) for _ in range(CROWD)
    )

    async def crowd() -> list[int]:
        sockets = await asyncio.gather(
            *(
                connect_async(
                    live_stack.ws_url(live_store.widget_key, conversation.shopper_id),
                    origin=live_stack.origin,
                    proxy=None,
                    open_timeout=60,
                )
                for conversation in returning
            )
        )
        hellos = [json.loads(frame) for frame in await asyncio.gather(*(s.recv() for s in sockets))]
        await asyncio.gather(*(s.close() for s in sockets))
        return [hello["conversation"] for hello in hellos]

    conversations = asyncio.run(crowd())
    assert len(set(conversations)) == CROWD
    layer = redis.Redis.from_url(live_stack.env["REDIS_URL"])
    groups = [f"asgi:group:conversation.{pk}" for pk in conversations]
    deadline = time.monotonic() + 10
    while any(layer.zcard(group) for group in groups):  # disconnects are handled just after
        assert time.monotonic() < deadline, "sockets that left are still in their groups"
        time.sleep(0.2)
    assert "Exception in ASGI application" not in live_stack.web.output()[output_before:]
