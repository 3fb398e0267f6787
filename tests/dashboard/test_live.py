"""The staff socket: the live inbox of the user's stores only, the watched conversation's frames,
and takeover reaching the shopper's widget live."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from dashboard_sockets import say, staff, widget
from dashboard_staff import logged_in
from django.test import Client

from chatbot.api.models import ApiKey
from chatbot.conversations import outcomes
from chatbot.conversations.models import Conversation
from chatbot.dashboard import staffing

pytestmark = pytest.mark.django_db(transaction=True)

login = sync_to_async(logged_in)


def is_update(frame, conversation_id=None) -> bool:
    return frame["type"] == "conversation" and (
        conversation_id is None or frame["conversation"]["id"] == conversation_id
    )


async def test_refused_without_a_login_or_from_another_site(agent_a, store_a):
    from django.test import Client

    assert not await staff(Client()).connect()
    assert not await staff(await login(agent_a), origin="https://evil.example").connect()
    desk = staff(await login(agent_a))
    assert await desk.connect()
    assert desk.first == {"type": "hello", "stores": [store_a.pk]}
    await desk.close()


async def test_the_inbox_updates_live_for_the_stores_staff_only(agent_a, agent_b, store_a, store_b):
    desk_a, desk_b = staff(await login(agent_a)), staff(await login(agent_b))
    assert await desk_a.connect() and await desk_b.connect()
    shopper = widget(store_a)
    assert await shopper.connect()
    await shopper.send(say("Where is my parcel?"))
    await shopper.until(lambda f: f["type"] == "ack")
    chat_id = shopper.first["conversation"]  # started by that first message

    update = (await desk_a.until(lambda f: is_update(f, chat_id)))[-1]["conversation"]
    assert update["state"] == "bot" and update["replying"] is True
    assert update["store"] == {"id": store_a.pk, "name": store_a.name}
    assert update["last_message"]["role"] == "shopper"
    assert update["last_message"]["text"] == "Where is my parcel?"
    assert await desk_b.silent_for(1.0), "store B's staff saw store A's conversation"

    # Waiting for a person shows at once.
    await shopper.send(say("I want to talk to a human"))
    escalated = await desk_a.until(
        lambda f: is_update(f, chat_id) and f["conversation"]["state"] == "escalated"
    )
    assert escalated[-1]["conversation"]["replying"] is False
    await shopper.close()
    await desk_a.close()
    await desk_b.close()


async def test_a_watched_conversation_streams_to_its_staff_only(agent_a, store_a, store_b):
    desk = staff(await login(agent_a))
    assert await desk.connect()
    foreign = await Conversation.objects.acreate(store=store_b, shopper_id="b" * 12)
    await desk.send({"type": "watch", "conversation": foreign.pk})
    assert await desk.receive() == {"type": "error", "code": "not_found"}

    shopper = widget(store_a)
    assert await shopper.connect()
    await shopper.send(say("Hello"))
    await shopper.until(lambda f: f["type"] == "ack")
    chat_id = shopper.first["conversation"]
    await desk.send({"type": "watch", "conversation": chat_id})
    watching = (await desk.until(lambda f: f["type"] == "watching"))[-1]  # past inbox updates
    assert watching == {"type": "watching", "conversation": chat_id}
    chat = await Conversation.objects.aget(pk=chat_id)
    await sync_to_async(outcomes.take_over)(chat, agent_a)
    joined = await desk.until(lambda f: f["type"] == "chat")
    assert joined[-1]["frame"]["type"] == "staff_joined"
    await shopper.close()
    await desk.close()


async def test_takeover_and_staff_messages_reach_the_widget_live(agent_a, store_a):
    shopper = widget(store_a)
    assert await shopper.connect()
    await shopper.send(say("Is anyone there?"))
    await shopper.until(lambda f: f["type"] == "ack")
    chat = await Conversation.objects.aget(pk=shopper.first["conversation"])

    await sync_to_async(outcomes.take_over)(chat, agent_a)
    joined = (await shopper.until(lambda f: f["type"] == "staff_joined"))[-1]
    assert joined["name"] == "Alex"
    assert joined["message"]["role"] == "system"
    assert joined["message"]["text"] == "Alex joined the chat."

    sent = await sync_to_async(staffing.send_staff_message)(chat, agent_a, "<b>Hi</b>, I'm Alex.")
    frame = (await shopper.until(lambda f: f["type"] == "message"))[-1]
    assert frame["message"]["id"] == sent.pk
    assert (frame["message"]["role"], frame["message"]["text"]) == ("staff", "<b>Hi</b>, I'm Alex.")

    await sync_to_async(outcomes.resolve_by_staff)(chat, agent_a)
    ended = await shopper.until(lambda f: f["type"] == "ended")
    assert ended[-1] == {"type": "ended", "outcome": "resolved_staff"}
    await shopper.close()


async def test_closing_through_the_api_ends_the_widget_and_updates_the_inbox(agent_a, store_a):
    desk = staff(await login(agent_a))
    assert await desk.connect()
    shopper_id = uuid.uuid4().hex
    shopper = widget(store_a, shopper=shopper_id)
    assert await shopper.connect()
    await shopper.send(say("Where is my parcel?"))
    await shopper.until(lambda f: f["type"] == "ack")
    chat = await Conversation.objects.aget(store=store_a, shopper_id=shopper_id)
    await desk.until(lambda f: is_update(f, chat.pk))

    _, key = await sync_to_async(ApiKey.issue)(store_a, "helpdesk", ["read", "write"])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    answer = await sync_to_async(api.post)(
        f"/api/v1/conversations/{chat.pk}/close/", {}, content_type="application/json"
    )
    assert answer.status_code == 200, answer.content
    ended = (await shopper.until(lambda f: f["type"] == "ended"))[-1]
    assert ended == {"type": "ended", "outcome": "resolved_bot"}
    update = await desk.until(
        lambda f: is_update(f, chat.pk) and f["conversation"]["state"] == "resolved"
    )
    assert update[-1]["conversation"]["outcome"] == "resolved_bot"
    await shopper.close()
    await desk.close()
