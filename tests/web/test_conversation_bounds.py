"""What a public widget key can make the server do is bounded: sockets alone create no
conversation (nor a `conversation.created` webhook), connects are limited per address (an IPv6
client by its /64), and a store's model replies per day are budgeted, with a clear error frame
once they are spent."""

import uuid

import pytest
from socket_client import Client

from chatbot.conversations.models import Conversation, Message
from chatbot.integrations.models import WebhookDelivery, WebhookSubscription
from chatbot.observability.metrics import REGISTRY
from chatbot.reliability import limits
from chatbot.stores.models import Store

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def frozen_clock(monkeypatch):
    """Mid-minute, mid-day: no window rolls over during a test."""
    monkeypatch.setattr(limits, "clock", lambda: 1_800_000_030.0)


def run_prefix() -> str:
    """Counters live in the shared cache: fresh addresses per run."""
    return uuid.uuid4().hex[:4]


async def test_sockets_alone_create_no_conversation_and_no_webhook(store):
    await WebhookSubscription.objects.acreate(
        store=store, url="https://hooks.example.com/in", events=["conversation.created"]
    )
    idle = [Client(store.widget_key) for _ in range(5)]
    for client in idle:
        assert await client.connect()
        assert client.hello["conversation"] is None
        await client.send({"type": "resume", "last_message_id": 0})
        await client.send({"type": "csat", "score": 5})
        assert (await client.receive())["code"] == "no_conversation"
    assert not await Conversation.objects.aexists()
    assert not await WebhookDelivery.objects.aexists()

    talker = idle[0]
    await talker.send({"type": "message", "client_msg_id": "m1", "text": "Do you ship abroad?"})
    started, ack = await talker.receive(), await talker.receive()
    conversation = await Conversation.objects.aget()
    assert started == {"type": "started", "conversation": conversation.pk}
    assert ack["type"] == "ack"
    assert await WebhookDelivery.objects.filter(event="conversation.created").acount() == 1
    # The next message goes to the same conversation, announced once.
    assert (await talker.say("And to Norway?"))["type"] == "ack"
    assert await Conversation.objects.acount() == 1
    for client in idle:
        await client.close()


def refused_connects() -> float:
    return (
        REGISTRY.get_sample_value("parley_chat_connections_total", {"outcome": "rate_limited"})
        or 0.0
    )


async def test_connects_are_limited_per_address_and_ipv6_per_64(store, settings, frozen_clock):
    settings.CHAT_CONNECTS_PER_MINUTE_PER_ADDRESS = 3
    run = run_prefix()
    block = [f"2001:db8:{run}:5::{n}" for n in range(1, 5)]  # four addresses of one /64
    clients = [Client(store.widget_key, address=address) for address in block]
    assert [await c.connect() for c in clients[:3]] == [True] * 3
    before = refused_connects()
    assert not await clients[3].connect()
    assert refused_connects() == before + 1
    # Another /64, and IPv4 addresses, count on their own.
    others = [
        Client(store.widget_key, address=f"2001:db8:{run}:6::1"),
        Client(store.widget_key, address=f"198.51.100.{int(run, 16) % 250 + 1}"),
    ]
    assert [await c.connect() for c in others] == [True, True]
    for client in clients[:3] + others:
        await client.close()


async def test_a_stores_daily_reply_budget_ends_with_a_clear_error(store, settings, frozen_clock):
    other = await Store.objects.acreate(
        name="Other", slug="other", allowed_origins=store.allowed_origins
    )
    settings.CHAT_DAILY_REPLIES_PER_STORE = 2
    client = Client(store.widget_key)
    assert await client.connect()
    assert [(await client.say(text))["type"] for text in ("one", "two")] == ["ack", "ack"]
    refused = await client.say("three", client_msg_id="m3")
    assert refused["type"] == "error"
    assert refused["code"] == "budget_exhausted"
    assert refused["client_msg_id"] == "m3"
    assert "today" in refused["message"]
    assert "retry_after" not in refused  # the widget must not resend it
    assert await Message.objects.filter(conversation__store=store).acount() == 2
    # A new shopper of the store gets no conversation either.
    newcomer = Client(store.widget_key)
    assert await newcomer.connect()
    assert (await newcomer.say("hello?"))["code"] == "budget_exhausted"
    assert await Conversation.objects.filter(store=store).acount() == 1
    # Another store has its own budget.
    elsewhere = Client(other.widget_key)
    assert await elsewhere.connect()
    assert (await elsewhere.say("hello"))["type"] == "ack"
    # A person who took the conversation over still hears the shopper: no model reply is asked.
    await Conversation.objects.filter(store=store).aupdate(state=Conversation.State.HUMAN)
    assert (await client.say("are you there?"))["type"] == "ack"
    for socket in (client, newcomer, elsewhere):
        await socket.close()
