"""The chat WebSocket against the real ASGI app and channel layer (Redis when REDIS_URL is set)."""

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from socket_client import ORIGIN, Client

from chatbot.conversations import leases, publish
from chatbot.conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)

count_messages = sync_to_async(lambda: Message.objects.count())


async def test_hello_names_the_conversation_and_protocol(store):
    client = Client(store.widget_key)
    assert await client.connect()
    assert client.hello == {
        "type": "hello",
        "protocol": 1,
        "conversation": None,  # none yet: the first message starts it
        "state": None,
        "last_message_id": 0,
        "replying": False,
    }
    ack = await client.say("Hello")
    conversation = await Conversation.objects.aget(store=store, shopper_id=client.shopper)
    assert client.conversation == conversation.pk
    await client.close()
    again = Client(store.widget_key, shopper=client.shopper)
    assert await again.connect()
    assert again.hello == {
        "type": "hello",
        "protocol": 1,
        "conversation": conversation.pk,
        "state": "bot",
        "last_message_id": ack["message_id"],
        "replying": False,
    }
    await again.close()


@pytest.mark.parametrize(
    "key, origin, shopper",
    [
        ("pk_unknown", ORIGIN, None),
        ("", ORIGIN, None),
        (None, "https://evil.example", None),
        (None, "http://shop.example", None),  # scheme matters
        (None, None, None),  # no Origin header at all
        (None, ORIGIN, "short"),
        (None, ORIGIN, "has spaces in it"),
    ],
)
async def test_refused_without_a_valid_key_origin_and_shopper(store, key, origin, shopper):
    client = Client(store.widget_key if key is None else key, shopper=shopper, origin=origin)
    assert not await client.connect()
    assert not await Conversation.objects.aexists()


BAD_FRAMES = [
    ("{not json", "malformed_json"),
    ("[1, 2]", "bad_frame"),
    ('"message"', "bad_frame"),
    ({"client_msg_id": "a1", "text": "hi"}, "unknown_type"),
    ({"type": "shout", "client_msg_id": "a1", "text": "hi"}, "unknown_type"),
    ({"type": "message", "client_msg_id": "a1", "text": ""}, "empty_text"),
    ({"type": "message", "client_msg_id": "a1", "text": " \n\t "}, "empty_text"),
    ({"type": "message", "client_msg_id": "a1", "text": 42}, "empty_text"),
    ({"type": "message", "client_msg_id": "a1"}, "empty_text"),
    ({"type": "message", "client_msg_id": "a1", "text": "x" * 4001}, "text_too_long"),
    ({"type": "message", "text": "hi"}, "bad_client_msg_id"),
    ({"type": "message", "client_msg_id": "", "text": "hi"}, "bad_client_msg_id"),
    ({"type": "message", "client_msg_id": 7, "text": "hi"}, "bad_client_msg_id"),
    ({"type": "message", "client_msg_id": "x" * 65, "text": "hi"}, "bad_client_msg_id"),
    ({"type": "resume", "last_message_id": -1}, "bad_resume"),
    ({"type": "resume", "last_message_id": "3"}, "bad_resume"),
    ({"type": "resume"}, "bad_resume"),
]


@pytest.mark.parametrize("frame, code", BAD_FRAMES)
async def test_bad_frame_gets_an_error_and_the_socket_stays_usable(store, frame, code):
    client = Client(store.widget_key)
    assert await client.connect()
    await client.send(frame)
    error = await client.receive()
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    assert await count_messages() == 0
    ack = await client.say("still here?")
    assert ack["type"] == "ack"
    assert await count_messages() == 1
    await client.close()


async def test_an_idle_socket_stays_connected(store):
    """The channel layer blocks in receive while nothing happens; that must not end the socket."""
    if get_channel_layer().__class__.__name__ == "InMemoryChannelLayer":
        pytest.skip("a Redis channel layer's blocking receive is what is tested")
    client = Client(store.widget_key)
    assert await client.connect()
    await asyncio.sleep(6.5)  # longer than redis-py 8's default 5 s socket timeout
    assert (await client.say("still there?"))["type"] == "ack"
    await client.close()


async def test_binary_frame_is_an_error(store):
    client = Client(store.widget_key)
    assert await client.connect()
    await client.ws.send_to(bytes_data=b'{"type": "message"}')
    error = await client.receive()
    assert (error["type"], error["code"]) == ("error", "binary_frame")
    assert (await client.say("hello"))["type"] == "ack"
    await client.close()


async def test_text_of_exactly_the_limit_is_accepted(store):
    client = Client(store.widget_key)
    assert await client.connect()
    ack = await client.say("y" * 4000)
    assert ack["type"] == "ack"
    stored = await Message.objects.aget(pk=ack["message_id"])
    assert len(stored.text) == 4000
    await client.close()


async def test_resend_of_a_client_id_is_stored_once(store):
    client = Client(store.widget_key)
    assert await client.connect()
    first = await client.say("Where is my order?", client_msg_id="c-1")
    again = await client.say("Where is my order?", client_msg_id="c-1")
    assert first["message_id"] == again["message_id"]
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    await client.close()
    # A second socket of the same shopper (e.g. a reconnect) resending it too.
    other = Client(store.widget_key, shopper=client.shopper, conversation=client.conversation)
    assert await other.connect()
    third = await other.say("Where is my order?", client_msg_id="c-1")
    assert third["message_id"] == first["message_id"]
    assert await count_messages() == 1
    # The same client id in another conversation is a different message.
    stranger = Client(store.widget_key)
    assert await stranger.connect()
    assert (await stranger.say("Hi", client_msg_id="c-1"))["duplicate"] is False
    assert await count_messages() == 2
    await other.close()
    await stranger.close()


def _seed_conversation(store, shopper):
    conversation = Conversation.objects.create(store=store, shopper_id=shopper)
    texts = [
        ("shopper", "Do you ship to Canada?"),
        ("bot", "Yes, in 5-7 days."),
        ("shopper", "<b>And returns?</b>"),
        ("bot", "Free within 30 days."),
    ]
    ids = [
        Message.objects.create(conversation=conversation, role=role, text=text).pk
        for role, text in texts
    ]
    return conversation, ids


async def test_resume_sends_what_the_client_missed(store):
    shopper = uuid.uuid4().hex
    conversation, ids = await sync_to_async(_seed_conversation)(store, shopper)
    client = Client(store.widget_key, shopper=shopper, conversation=conversation.pk)
    assert await client.connect()
    assert client.hello["conversation"] == conversation.pk
    assert client.hello["last_message_id"] == ids[-1]
    await client.send({"type": "resume", "last_message_id": ids[1]})
    missed = [await client.receive(), await client.receive()]
    assert [f["type"] for f in missed] == ["message", "message"]
    assert [f["message"]["id"] for f in missed] == ids[2:]
    assert [f["message"]["text"] for f in missed] == ["<b>And returns?</b>", "Free within 30 days."]
    assert [f["message"]["role"] for f in missed] == ["shopper", "bot"]
    await client.send({"type": "resume", "last_message_id": ids[-1]})
    assert await client.ws.receive_nothing(timeout=0.3)
    await client.close()


async def test_someone_elses_conversation_id_is_not_opened(store):
    conversation, _ = await sync_to_async(_seed_conversation)(store, uuid.uuid4().hex)
    intruder = Client(store.widget_key, conversation=conversation.pk)
    assert await intruder.connect()
    assert intruder.hello["conversation"] != conversation.pk
    await intruder.send({"type": "resume", "last_message_id": 0})
    assert await intruder.ws.receive_nothing(timeout=0.3)
    await intruder.close()


async def test_frames_published_by_a_worker_thread_reach_every_socket(store):
    client = Client(store.widget_key)
    assert await client.connect()
    await client.say("Hello")
    twin = Client(store.widget_key, shopper=client.shopper, conversation=client.conversation)
    assert await twin.connect()
    group = f"conversation.{client.conversation}"
    if get_channel_layer().__class__.__name__ == "InMemoryChannelLayer":
        publish.bind_loop(asyncio.get_running_loop())  # as the embedded server does
    try:
        for seq, text in enumerate(["Hel", "lo"]):
            frame = {"type": "delta", "reply_id": "r1", "seq": seq, "text": text}
            await asyncio.to_thread(publish.send_frame, group, frame)
    finally:
        publish.bind_loop(None)
    for socket in (client, twin):
        got = [await socket.receive(), await socket.receive()]
        assert [(f["seq"], f["text"]) for f in got] == [(0, "Hel"), (1, "lo")]
        await socket.close()


async def test_a_reply_is_queued_only_when_no_worker_holds_the_conversation(store):
    from chatbot.celery import app

    def queued() -> int:
        with app.connection_for_write() as connection:
            return connection.default_channel.queue_declare("gpu", passive=True).message_count

    def purge():
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge("gpu")

    await sync_to_async(purge)()
    client = Client(store.widget_key)
    assert await client.connect()
    await client.say("first")
    conversation_id = client.conversation
    assert await sync_to_async(queued)() == 1
    # A worker is replying: it picks up later messages itself after releasing its lease.
    assert await sync_to_async(leases.acquire)(conversation_id, uuid.uuid4())
    await client.say("second")
    assert await sync_to_async(queued)() == 1
    await sync_to_async(purge)()
    await client.close()
