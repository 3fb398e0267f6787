"""API keys: shown once and stored hashed, scoped, revocable, last use recorded, rate limited; and
tenant isolation on every endpoint."""

import hashlib
import io
import re
import uuid

import pytest
from api_clients import key_client
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from chatbot.api.models import ApiKey
from chatbot.conversations.models import Conversation, Message
from chatbot.integrations.models import WebhookSubscription
from chatbot.knowledge.models import Article

CONVERSATIONS = "/api/v1/conversations/"


def test_requests_without_a_valid_key_get_401(api):
    assert Client().get(CONVERSATIONS).status_code == 401
    answer = Client().get(CONVERSATIONS)
    assert answer["WWW-Authenticate"].startswith("Bearer")
    assert answer.json()["error"] == "not_authenticated"
    tampered = api.full_key[:-4] + ("AAAA" if not api.full_key.endswith("AAAA") else "BBBB")
    for header in [
        "Bearer sk_nonsense",
        f"Bearer {tampered}",  # right key id, wrong secret
        f"Basic {api.full_key}",
        "Bearer ",
    ]:
        answer = Client(HTTP_AUTHORIZATION=header).get(CONVERSATIONS)
        assert answer.status_code == 401, header
        assert api.full_key not in answer.content.decode()
    assert api.get(CONVERSATIONS).status_code == 200
    assert Client(HTTP_X_API_KEY=api.full_key).get(CONVERSATIONS).status_code == 200


def test_the_key_is_stored_only_as_its_hash_with_a_recognisable_prefix(api):
    stored = ApiKey.objects.get(pk=api.api_key.pk)
    assert re.fullmatch(r"sk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", api.full_key)
    assert api.full_key.startswith(stored.prefix + "_")
    assert stored.key_digest == hashlib.sha256(api.full_key.encode()).hexdigest()
    secret = api.full_key.split("_", 2)[2]
    row = {f.attname: str(getattr(stored, f.attname)) for f in ApiKey._meta.fields}
    assert not any(secret in value for value in row.values())


def test_last_use_is_recorded(api):
    assert ApiKey.objects.get(pk=api.api_key.pk).last_used is None
    api.get(CONVERSATIONS)
    assert ApiKey.objects.get(pk=api.api_key.pk).last_used is not None


def test_a_revoked_key_stops_working_at_once(api):
    assert api.get(CONVERSATIONS).status_code == 200
    ApiKey.objects.get(pk=api.api_key.pk).revoke()
    assert api.get(CONVERSATIONS).status_code == 401


def test_scopes(store, reader):
    writer = key_client(store, "write")
    completions = key_client(store, "completions")
    body = {"shopper_id": uuid.uuid4().hex}
    assert reader.get(CONVERSATIONS).status_code == 200
    assert reader.post(CONVERSATIONS, body, content_type="application/json").status_code == 403
    assert writer.post(CONVERSATIONS, body, content_type="application/json").status_code == 201
    assert writer.get(CONVERSATIONS).status_code == 403
    assert completions.get(CONVERSATIONS).status_code == 403


def test_rate_limit_per_key_answers_429_with_retry_after(store, api):
    limited = key_client(store, "read", rate_limit="3/min")
    for _ in range(3):
        assert limited.get(CONVERSATIONS).status_code == 200
    answer = limited.get(CONVERSATIONS)
    assert answer.status_code == 429 and answer.json()["error"] == "throttled"
    assert 0 < int(answer["Retry-After"]) <= 60
    assert api.get(CONVERSATIONS).status_code == 200  # another key has its own count


def test_the_management_command_prints_a_working_key(store):
    out = io.StringIO()
    call_command(
        "create_api_key",
        store=store.slug,
        name="Back end",
        scopes="read",
        stdout=out,
        stderr=io.StringIO(),
    )
    full_key = out.getvalue().strip()
    assert ApiKey.objects.get(key_id=full_key[3:15]).scopes == ["read"]
    assert Client(HTTP_AUTHORIZATION=f"Bearer {full_key}").get(CONVERSATIONS).status_code == 200


def test_the_admin_creates_a_key_and_shows_it_once(store):
    admin = User.objects.create_superuser("boss", "boss@example.com", "pw-123-xyz")
    browser = Client()
    browser.force_login(admin)
    answer = browser.post(
        "/admin/api/apikey/add/",
        {"store": store.pk, "name": "Shop", "scopes": ["read", "write"], "rate_limit": ""},
        follow=True,
    )
    page = answer.content.decode()
    [full_key] = re.findall(r"sk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", page)
    api_key = ApiKey.objects.get()
    assert api_key.scopes == ["read", "write"] and api_key.created_by == admin
    assert Client(HTTP_AUTHORIZATION=f"Bearer {full_key}").get(CONVERSATIONS).status_code == 200
    listing = browser.get("/admin/api/apikey/").content.decode()
    change = browser.get(f"/admin/api/apikey/{api_key.pk}/change/").content.decode()
    assert api_key.prefix in listing
    assert full_key not in listing and full_key not in change


@pytest.fixture
def theirs(other_store):
    """One object of every kind, all belonging to the other store."""
    conversation = Conversation.objects.create(store=other_store, shopper_id=uuid.uuid4().hex)
    Message.objects.create(conversation=conversation, role="shopper", text="secret plans")
    article = Article.objects.create(store=other_store, title="Theirs", body="Private")
    hook = WebhookSubscription.objects.create(
        store=other_store, url="https://example.com/h", events=["message.created"]
    )
    return {"conversation": conversation.pk, "article": article.pk, "webhook": hook.pk}


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "conversations/{conversation}/"),
        ("post", "conversations/{conversation}/close/"),
        ("get", "conversations/{conversation}/messages/"),
        ("post", "conversations/{conversation}/messages/"),
        ("get", "conversations/{conversation}/transcript/"),
        ("get", "articles/{article}/"),
        ("patch", "articles/{article}/"),
        ("put", "articles/{article}/"),
        ("delete", "articles/{article}/"),
        ("get", "webhooks/{webhook}/"),
        ("delete", "webhooks/{webhook}/"),
        ("get", "webhooks/{webhook}/deliveries/"),
    ],
)
def test_another_stores_objects_are_not_found(api, theirs, method, path):
    body = {"text": "hi", "title": "Mine now", "body": "x"}
    answer = getattr(api, method)(
        "/api/v1/" + path.format(**theirs), body, content_type="application/json"
    )
    assert answer.status_code == 404
    assert Conversation.objects.get(pk=theirs["conversation"]).state == "bot"
    assert Conversation.objects.get(pk=theirs["conversation"]).messages.count() == 1
    assert Article.objects.get(pk=theirs["article"]).title == "Theirs"
    assert WebhookSubscription.objects.filter(pk=theirs["webhook"]).exists()


@pytest.mark.parametrize("path", ["conversations/", "transcripts/", "articles/", "webhooks/"])
def test_lists_hold_only_the_own_stores_objects(api, theirs, path):
    answer = api.get("/api/v1/" + path)
    assert answer.status_code == 200 and answer.json()["count"] == 0


def test_metrics_count_only_the_own_store(api, theirs):
    assert api.get("/api/v1/metrics/").json()["totals"]["dialogues"] == 0
