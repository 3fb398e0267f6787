"""Cross-store access fails everywhere: through the widget socket, every object route of the API
(found from its schema, so new routes are covered too), every object route of the dashboard (found
from its URL patterns) and the staff socket. Another store's objects are simply not found."""

import json
import re

import pytest
from asgiref.sync import sync_to_async
from dashboard_sockets import staff, widget
from dashboard_staff import logged_in, make_staff
from django.test import Client
from django.urls import reverse

from chatbot.api.models import ApiKey
from chatbot.conversations import publish
from chatbot.conversations.models import Conversation, Message
from chatbot.dashboard import urls as dashboard_urls
from chatbot.dashboard.models import Membership
from chatbot.integrations.models import WebhookSubscription
from chatbot.knowledge.models import Article
from chatbot.stores.models import Store

pytestmark = pytest.mark.django_db(transaction=True)

THEIRS = "Their secret plans: <b>sale</b> on Friday"


@pytest.fixture
def theirs(other_store):
    """Everything the other store has: a conversation with a message, an article, a webhook."""
    other_store.allowed_origins = ["https://other.example"]
    other_store.save()
    conversation = Conversation.objects.create(store=other_store, shopper_id="shared-shopper-1")
    Message.objects.create(conversation=conversation, role="shopper", text=THEIRS)
    return {
        "conversations": conversation,
        "articles": Article.objects.create(store=other_store, title="Sale", body=THEIRS),
        "webhooks": WebhookSubscription.objects.create(
            store=other_store, url="http://127.0.0.1:9/hook", events=["message.created"]
        ),
    }


def snapshot() -> list:
    """Everything that an attempt must leave unchanged."""
    return [
        list(model.objects.order_by("pk").values())
        for model in (Store, Conversation, Message, Article, WebhookSubscription)
    ]


async def test_the_widget_never_reaches_another_stores_conversation(store, theirs):
    conversation = theirs["conversations"]
    # Our key, their shopper id and conversation id: a conversation of our own is opened.
    ours = widget(store, shopper=conversation.shopper_id)
    ours.ws.scope["query_string"] += f"&conversation={conversation.pk}".encode()
    assert await ours.connect()
    assert ours.first["conversation"] != conversation.pk
    await ours.send({"type": "resume", "last_message_id": 0})
    assert await ours.silent_for(0.3)
    await ours.close()
    other = await sync_to_async(Store.objects.get)(pk=conversation.store_id)
    # Their key from our page, or our key from theirs: refused at the handshake.
    assert not await widget(other).connect()
    assert not await widget(store, origin="https://other.example").connect()
    assert await Message.objects.filter(text=THEIRS).acount() == 1


def api_routes() -> list[tuple[str, str]]:
    """(method, path template) of every API route that names an object by id."""
    schema = json.loads(Client().get("/api/v1/schema/", {"format": "json"}).content)
    return [
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        if "{id}" in path
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_an_api_key_finds_no_object_of_another_store(store, theirs):
    _, key = ApiKey.issue(store, "isolation", ["read", "write"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    routes = api_routes()
    assert {path.split("/")[3] for _, path in routes} >= set(theirs)
    before = snapshot()
    for method, template in routes:
        resource = template.split("/")[3]
        path = template.replace("{id}", str(theirs[resource].pk))
        body = {"text": "hi", "title": "x", "body": "y", "outcome": "resolved"}
        response = client.generic(method, path, json.dumps(body), "application/json")
        assert response.status_code == 404, (method, path, response.status_code)
        assert THEIRS not in response.content.decode()
    for resource in theirs:
        listed = client.get(f"/api/v1/{resource}/")
        assert listed.status_code == 200 and listed.json()["results"] == []
    assert snapshot() == before


def dashboard_routes() -> list[str]:
    """Names of every dashboard route that takes an object's pk."""
    return [p.name for p in dashboard_urls.urlpatterns if "pk" in p.pattern.converters]


def test_staff_of_one_store_find_nothing_of_another(store, theirs):
    agent = make_staff("agent-of-ours", store, role=Membership.Role.ADMIN)
    client = logged_in(agent)
    conversation = theirs["conversations"]
    names = dashboard_routes()
    assert {"conversation", "take_over", "send", "store_settings"} <= set(names)
    before = snapshot()
    for name in names:
        pk = conversation.store_id if name.startswith("store") else conversation.pk
        kwargs = {"pk": pk, "after": 0} if name == "messages_after" else {"pk": pk}
        url = reverse(f"dashboard:{name}", kwargs=kwargs)
        for response in (client.get(url), client.post(url, {"text": "hi", "tag": "x"})):
            assert response.status_code in (404, 405), (name, response.status_code)
            assert THEIRS not in response.content.decode()
    for page in ("dashboard:inbox", "dashboard:search"):
        response = client.get(reverse(page), {"q": "secret"})
        assert THEIRS not in response.content.decode()
        assert not re.search(rf"/dashboard/c/{conversation.pk}/", response.content.decode())
    assert snapshot() == before


async def test_the_staff_socket_refuses_to_watch_another_stores_conversation(store, theirs):
    agent = await sync_to_async(make_staff)("watcher-of-ours", store)
    client = await sync_to_async(logged_in)(agent)
    socket = staff(client)
    assert await socket.connect()
    conversation = theirs["conversations"]
    await socket.send({"type": "watch", "conversation": conversation.pk})
    assert (await socket.receive())["type"] == "error"
    frame = {"type": "delta", "reply_id": "r", "seq": 0, "text": THEIRS}
    await sync_to_async(publish.send_frame)(conversation.group_name, frame)
    assert await socket.silent_for(0.5)
    await socket.close()
