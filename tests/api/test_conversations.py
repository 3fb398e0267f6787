"""Conversations and messages through the API: create (optionally verified), list with filters,
get, close, post messages, transcripts; invalid input is a 400 naming the field and the reason."""

import json
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from chatbot.conversations.models import Conversation, Message
from chatbot.integrations.models import StoreIntegration, WebhookDelivery, WebhookSubscription
from chatbot.integrations.signing import shopper_signature

CONVERSATIONS = "/api/v1/conversations/"


def post(client, path, body=None, **extra):
    return client.post(path, body or {}, content_type="application/json", **extra)


def field_errors(answer) -> dict[str, str]:
    assert answer.status_code == 400, answer.content
    data = answer.json()
    assert data["error"] == "invalid"
    return {e["field"]: e["reason"] for e in data["errors"]}


def streamed(answer) -> dict:
    """The JSON body of a streamed answer, read as the ASGI server reads it."""

    async def collect():
        return b"".join([chunk async for chunk in answer.streaming_content])

    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    return json.loads(async_to_sync(collect)())


@pytest.fixture
def conversation(store):
    return Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)


def test_create_an_anonymous_conversation(api, store):
    answer = post(api, CONVERSATIONS, {"shopper_id": "shopper-0001"})
    assert answer.status_code == 201
    created = Conversation.objects.get(pk=answer.json()["id"])
    assert (created.store, created.shopper_id, created.verified_identity) == (
        store,
        "shopper-0001",
        "",
    )
    assert answer.json()["state"] == "bot"


def test_create_a_verified_conversation(api, store):
    integration = StoreIntegration.objects.create(store=store)
    signature = shopper_signature(integration.identity_secret, "cust-42")
    answer = post(
        api,
        CONVERSATIONS,
        {"shopper_id": "shopper-0001", "customer_id": "cust-42", "customer_signature": signature},
    )
    assert answer.status_code == 201 and answer.json()["verified_identity"] == "cust-42"
    token = jwt.encode({"sub": "cust-7", "exp": int(time.time()) + 60}, integration.identity_secret)
    answer = post(api, CONVERSATIONS, {"shopper_id": "shopper-0002", "identity_token": token})
    assert answer.status_code == 201 and answer.json()["verified_identity"] == "cust-7"


def test_an_invalid_identity_is_a_field_error_and_creates_nothing(api, store):
    integration = StoreIntegration.objects.create(store=store, verification_required=True)
    forged = shopper_signature("guess", "cust-42")
    errors = field_errors(
        post(
            api,
            CONVERSATIONS,
            {"shopper_id": "shopper-0001", "customer_id": "cust-42", "customer_signature": forged},
        )
    )
    assert errors == {"customer_signature": "The customer signature is invalid."}
    errors = field_errors(post(api, CONVERSATIONS, {"shopper_id": "shopper-0001"}))
    assert "requires a verified shopper identity" in errors["customer_signature"]
    assert integration.identity_secret not in str(errors)
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "shopper_id"),
        ({"shopper_id": "short"}, "shopper_id"),
        ({"shopper_id": "has spaces in it"}, "shopper_id"),
        ({"shopper_id": ["shopper-0001"]}, "shopper_id"),
    ],
)
def test_create_validation(api, body, field):
    assert field in field_errors(post(api, CONVERSATIONS, body))


def test_list_filters_by_state_and_date_range(api, store):
    old = Conversation.objects.create(store=store, shopper_id="s-old-0001")
    Conversation.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=10))
    escalated = Conversation.objects.create(store=store, shopper_id="s-esc-0001", state="escalated")
    fresh = Conversation.objects.create(store=store, shopper_id="s-new-0001")

    def ids(query):
        answer = api.get(CONVERSATIONS, query)
        assert answer.status_code == 200
        return [c["id"] for c in answer.json()["results"]]

    assert ids({}) == [fresh.pk, escalated.pk, old.pk]  # newest first
    assert ids({"state": "escalated"}) == [escalated.pk]
    week_ago = (timezone.now() - timedelta(days=7)).isoformat()
    assert ids({"created_after": week_ago}) == [fresh.pk, escalated.pk]
    assert ids({"created_before": week_ago}) == [old.pk]
    assert ids({"shopper_id": "s-new-0001"}) == [fresh.pk]
    assert ids({"limit": 1, "offset": 1}) == [escalated.pk]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"state": "sleeping"}, "state"),
        ({"created_after": "yesterday"}, "created_after"),
        (
            {"created_after": "2025-02-01T00:00:00Z", "created_before": "2025-01-01T00:00:00Z"},
            "created_before",
        ),
    ],
)
def test_list_filter_validation(api, query, field):
    assert field in field_errors(api.get(CONVERSATIONS, query))


def test_get_and_close(api, store, conversation):
    hook = WebhookSubscription.objects.create(
        store=store, url="http://127.0.0.1:9/", events=["conversation.resolved", "csat.submitted"]
    )
    assert api.get(f"{CONVERSATIONS}{conversation.pk}/").json()["shopper_id"] == (
        conversation.shopper_id
    )
    assert "csat" in field_errors(
        post(api, f"{CONVERSATIONS}{conversation.pk}/close/", {"csat": 9})
    )
    answer = post(api, f"{CONVERSATIONS}{conversation.pk}/close/", {"csat": 4})
    assert answer.status_code == 200
    conversation.refresh_from_db()
    assert (conversation.state, conversation.outcome, conversation.csat) == (
        "resolved",
        "resolved_bot",  # "resolved" by default: by the bot, which had it throughout
        4,
    )
    events = set(WebhookDelivery.objects.filter(subscription=hook).values_list("event", flat=True))
    assert events == {"conversation.resolved", "csat.submitted"}
    again = post(api, f"{CONVERSATIONS}{conversation.pk}/close/", {"outcome": "resolved_bot"})
    assert again.status_code == 409 and again.json()["error"] == "conflict"


def escalated(store, state=Conversation.State.ESCALATED) -> Conversation:
    return Conversation.objects.create(
        store=store, shopper_id=uuid.uuid4().hex, state=state, outcome="escalated"
    )


@pytest.mark.parametrize(
    "history, outcome, expected",
    [
        ("bot", "resolved", ("resolved", "resolved_bot")),
        ("bot", "abandoned", ("abandoned", "abandoned")),
        ("escalated", "resolved", ("resolved", "resolved_staff")),
        ("escalated", "resolved_staff", ("resolved", "resolved_staff")),
        ("escalated", "abandoned", ("abandoned", "escalated")),  # stays counted as escalated
        ("human", "resolved", ("resolved", "resolved_staff")),
        ("handed_back", "resolved", ("resolved", "resolved_staff")),  # bot again, once escalated
    ],
)
def test_close_follows_the_conversation_rules(api, store, history, outcome, expected):
    chat = {
        "bot": lambda: Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex),
        "escalated": lambda: escalated(store),
        "human": lambda: escalated(store, Conversation.State.HUMAN),
        "handed_back": lambda: escalated(store, Conversation.State.BOT),
    }[history]()
    answer = post(api, f"{CONVERSATIONS}{chat.pk}/close/", {"outcome": outcome})
    assert answer.status_code == 200, answer.content
    assert (answer.json()["state"], answer.json()["outcome"]) == expected
    chat.refresh_from_db()
    assert (chat.state, chat.outcome) == expected


@pytest.mark.parametrize(
    "history, outcome",
    [
        ("escalated", "resolved_bot"),  # the bot did not settle what a person had to
        ("handed_back", "resolved_bot"),
        ("bot", "resolved_staff"),  # no person ever had it
        ("bot", "escalated"),  # not a way to end a dialogue
        ("bot", "solved, honest"),
    ],
)
def test_close_refuses_an_outcome_the_history_contradicts(api, store, history, outcome):
    chat = (
        Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
        if history == "bot"
        else escalated(store, "escalated" if history == "escalated" else "bot")
    )
    answer = post(api, f"{CONVERSATIONS}{chat.pk}/close/", {"outcome": outcome})
    assert "outcome" in field_errors(answer)
    chat.refresh_from_db()
    assert chat.state in ("bot", "escalated") and chat.outcome in ("", "escalated")


def test_post_a_message_queues_a_reply_and_resends_are_not_stored_twice(api, conversation):
    path = f"{CONVERSATIONS}{conversation.pk}/messages/"
    answer = post(api, path, {"text": "  Do you ship to Canada?  ", "client_msg_id": "c-1"})
    assert answer.status_code == 202
    data = answer.json()
    assert data["message"]["text"] == "Do you ship to Canada?" and data["duplicate"] is False
    assert data["reply"] is None and data["state"] == "bot"
    again = post(api, path, {"text": "Do you ship to Canada?", "client_msg_id": "c-1"}).json()
    assert again["duplicate"] is True and again["message"]["id"] == data["message"]["id"]
    assert conversation.messages.count() == 1
    listed = api.get(path).json()["results"]
    assert [(m["role"], m["text"]) for m in listed] == [("shopper", "Do you ship to Canada?")]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"text": "hi", "client_msg_id": "x" * 65}, "client_msg_id"),
        ({"text": "nul \x00 byte"}, "text"),
    ],
)
def test_message_validation(api, conversation, body, field):
    assert field in field_errors(post(api, f"{CONVERSATIONS}{conversation.pk}/messages/", body))
    assert not conversation.messages.exists()


@pytest.mark.parametrize("query, field", [("timeout=0", "timeout"), ("timeout=999", "timeout")])
def test_wait_timeout_validation(api, conversation, query, field):
    path = f"{CONVERSATIONS}{conversation.pk}/messages/?wait=true&{query}"
    assert field in field_errors(post(api, path, {"text": "hi"}))


def test_waiting_on_a_conversation_staff_have_answers_at_once(api, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(state=Conversation.State.HUMAN)
    started = time.monotonic()
    answer = post(api, f"{CONVERSATIONS}{conversation.pk}/messages/?wait=true", {"text": "Hello?"})
    data = streamed(answer)
    assert time.monotonic() - started < 5
    assert data["state"] == "human" and data["reply"] is None and data["timed_out"] is False


def test_waiting_returns_a_reply_that_is_already_stored(api, conversation):
    """A resend (same client_msg_id) of a message the bot already answered gets that answer."""
    shopper = Message.objects.create(
        conversation=conversation, role="shopper", text="Hi", client_msg_id="c-9"
    )
    bot = Message.objects.create(
        conversation=conversation, role="bot", text="Hello! How can I help?"
    )
    Conversation.objects.filter(pk=conversation.pk).update(answered_through=shopper.pk)
    answer = post(
        api,
        f"{CONVERSATIONS}{conversation.pk}/messages/?wait=true",
        {"text": "Hi", "client_msg_id": "c-9"},
    )
    data = streamed(answer)
    assert data["duplicate"] is True and data["reply"]["id"] == bot.pk
    assert data["reply"]["text"] == "Hello! How can I help?"


def test_a_wait_with_no_worker_times_out(api, conversation):
    started = time.monotonic()
    answer = post(
        api, f"{CONVERSATIONS}{conversation.pk}/messages/?wait=true&timeout=1", {"text": "Hi"}
    )
    data = streamed(answer)
    assert data["timed_out"] is True and data["reply"] is None
    assert 1 <= time.monotonic() - started < 5


def test_transcript_as_json_and_text(api, conversation):
    Message.objects.create(conversation=conversation, role="shopper", text="Hi")
    Message.objects.create(conversation=conversation, role="bot", text="Hello!")
    path = f"{CONVERSATIONS}{conversation.pk}/transcript/"
    data = api.get(path).json()
    assert data["conversation"]["id"] == conversation.pk
    assert [(m["role"], m["text"]) for m in data["messages"]] == [
        ("shopper", "Hi"),
        ("bot", "Hello!"),
    ]
    text = api.get(path, {"format": "txt"})
    assert text["Content-Type"].startswith("text/plain")
    lines = text.content.decode().splitlines()
    assert lines[0].startswith(f"Conversation {conversation.pk} (bot)")
    assert lines[-2].endswith("Shopper: Hi") and lines[-1].endswith("Assistant: Hello!")


def test_transcripts_export_in_a_date_range(api, store, conversation):
    Message.objects.create(conversation=conversation, role="shopper", text="Hi")
    old = Conversation.objects.create(store=store, shopper_id="s-old-0001")
    Conversation.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    data = api.get("/api/v1/transcripts/", {"created_after": since}).json()
    assert data["count"] == 1
    [transcript] = data["results"]
    assert transcript["conversation"]["id"] == conversation.pk
    assert [m["text"] for m in transcript["messages"]] == ["Hi"]
