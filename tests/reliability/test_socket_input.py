"""Hostile input on the chat socket, through the whole ASGI app in-process: every bad frame gets an
error frame, nothing bad is stored, and the socket keeps working."""

import asyncio
import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from socket_client import ORIGIN, Client

from chatbot.conversations.models import Conversation, Message
from chatbot.reliability import limits

pytestmark = pytest.mark.django_db(transaction=True)

count_messages = sync_to_async(lambda: Message.objects.count())


async def connected(store, **kwargs) -> Client:
    client = Client(store.widget_key, **kwargs)
    assert await client.connect()
    return client


async def assert_still_usable(client: Client) -> None:
    await client.send({"type": "message", "client_msg_id": "usable", "text": "still here?"})
    answer = await client.receive()
    while answer["type"] not in ("ack", "error"):  # a worker's reply to earlier messages
        answer = await client.receive()
    assert answer["type"] == "ack" and answer["duplicate"] is False


HOSTILE_FRAMES = [
    ("[" * 30_000 + "]" * 30_000, "malformed_json"),  # nesting deeper than the parser's stack
    ('{"type": "message", "client_msg_id": "a", "text": "hi"', "malformed_json"),
    ("NaN", "bad_frame"),
    ("1" * 5000, "malformed_json"),  # an integer longer than Python converts
    ("\x00\x01\x02", "malformed_json"),
    ({"type": {"$ne": None}, "text": "hi"}, "unknown_type"),
    ({"type": "message", "client_msg_id": "a", "text": "x" * 100_000}, "frame_too_large"),
    ({"type": "message", "client_msg_id": "a", "text": "nul \u0000 byte"}, "bad_text"),
    ('{"type": "message", "client_msg_id": "a", "text": "half \\ud83d pair"}', "bad_text"),
    ('{"type": "message", "client_msg_id": "\\udfff", "text": "hi"}', "bad_client_msg_id"),
    ({"type": "message", "client_msg_id": "a\u0000b", "text": "hi"}, "bad_client_msg_id"),
    ({"type": "resume", "last_message_id": 10**30}, "bad_resume"),
    ({"type": "csat", "score": 1e308}, "bad_score"),
]


@pytest.mark.parametrize("frame, code", HOSTILE_FRAMES)
async def test_hostile_frames_get_an_error_frame_and_store_nothing(store, frame, code):
    client = await connected(store)
    await client.send(frame)
    error = await client.receive()
    assert (error["type"], error["code"]) == ("error", code)
    assert error["message"]
    assert await count_messages() == 0
    await assert_still_usable(client)
    await client.close()


async def test_binary_frames_of_any_content_are_errors(store):
    client = await connected(store)
    for payload in [
        b"\xff\xfe\x00garbage",
        json.dumps({"type": "resume"}).encode(),
        b"\x80" * 70_000,
    ]:
        await client.ws.send_to(bytes_data=payload)
        error = await client.receive()
        assert (error["type"], error["code"]) == ("error", "binary_frame")
    await assert_still_usable(client)
    await client.close()


async def test_text_with_every_valid_character_is_stored_as_sent(store):
    """What is refused above is only what cannot be stored: everything else arrives intact."""
    text = "émoji 😀, RTL \u202eabc, zero-width \u200b, tab\tand\nnewline, <b>&amp;</b> ' \" \\"
    client = await connected(store)
    ack = await client.say(text)
    assert (await Message.objects.aget(pk=ack["message_id"])).text == text
    await client.close()


async def test_a_flood_is_rate_limited_with_a_clear_error_and_the_socket_lives(store, settings):
    settings.CHAT_FRAME_BURST = 5
    settings.CHAT_FRAMES_PER_SECOND = 4.0
    client = await connected(store)
    for n in range(40):
        await client.send({"type": "message", "client_msg_id": f"flood-{n}", "text": f"spam {n}"})
    frames = []
    while len(frames) < 40:  # one answer per frame (a worker's reply frames may come in between)
        frame = await client.receive()
        if frame["type"] in ("ack", "error"):
            frames.append(frame)
    acks = [f for f in frames if f["type"] == "ack"]
    limited = [f for f in frames if f["type"] == "error"]
    assert 5 <= len(acks) < 10, frames
    assert len(acks) + len(limited) == 40
    assert {f["code"] for f in limited} == {"rate_limited"}
    assert all(0 < f["retry_after"] <= 1 for f in limited)
    assert await count_messages() == len(acks)
    await asyncio.sleep(limited[-1]["retry_after"])
    await assert_still_usable(client)
    # Every socket has its own budget: another shopper is not slowed by the flood.
    bystander = await connected(store)
    await assert_still_usable(bystander)
    await bystander.close()
    await client.close()


async def test_messages_are_budgeted_per_address_across_sockets(store, settings, monkeypatch):
    """Opening more sockets buys no more model replies: one address's budget is shared by all its
    sockets; a refused message is named, so the widget resends it later; other addresses carry on."""
    settings.CHAT_MESSAGES_PER_MINUTE_PER_ADDRESS = 3
    monkeypatch.setattr(limits, "clock", lambda: 1_800_000_030.0)  # mid-window: no rollover
    run = uuid.uuid4().hex[:4]  # the counters live in the shared cache: fresh addresses per run
    here, there = f"2001:db8:{run}::7", f"2001:db8:{run}:1::9"  # two /64 networks

    async def answer(client, client_msg_id):
        await client.send({"type": "message", "client_msg_id": client_msg_id, "text": "hello"})
        frame = await client.receive()
        while frame["type"] not in ("ack", "error"):
            frame = await client.receive()
        return frame

    first = await connected(store, address=here)
    second = await connected(store, address=here)
    assert [(await answer(c, f"m{n}"))["type"] for n, c in enumerate([first, first, second])] == [
        "ack"
    ] * 3
    refused = await answer(second, "over")
    assert (refused["type"], refused["code"], refused["client_msg_id"]) == (
        "error",
        "rate_limited",
        "over",
    )
    assert 0 < refused["retry_after"] <= 60
    assert await count_messages() == 3
    elsewhere = await connected(store, address=there)
    assert (await answer(elsewhere, "fine"))["type"] == "ack"
    for client in (first, second, elsewhere):
        await client.close()


@pytest.mark.parametrize(
    "conversation",
    ["\u00b2", "\u0663", "99999999999999999999999", "-1", "1e3", "%00"],
)
async def test_a_strange_conversation_parameter_opens_a_fresh_conversation(store, conversation):
    client = Client(store.widget_key, conversation=conversation)
    assert await client.connect()
    assert client.hello["conversation"] is None
    await assert_still_usable(client)
    assert client.conversation == (await Conversation.objects.aget()).pk
    await client.close()


@pytest.mark.parametrize(
    "shopper", ["a" * 65, "<script>x</script>", "abc'; DROP TABLE x;--", "\u00e9" * 10]
)
async def test_a_hostile_shopper_id_is_refused(store, shopper):
    assert not await Client(store.widget_key, shopper=shopper).connect()
    assert not await Conversation.objects.aexists()


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://shop.example.evil.example",
        "https://evil.example/https://shop.example",
        "null",
        ORIGIN + "\r\nX-Injected: 1",
    ],
)
async def test_origins_the_store_does_not_allow_are_refused(store, origin):
    assert not await Client(store.widget_key, origin=origin).connect()
    assert not await Conversation.objects.aexists()
