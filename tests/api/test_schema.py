"""The OpenAPI schema and its docs page, and schemathesis fuzzing every operation of the API (with
real objects of the key's store behind the ids) without a single server error."""

import re
import uuid

import pytest
import schemathesis
from api_clients import key_client
from django.contrib.staticfiles import finders
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from chatbot.conversations.models import Conversation, Message
from chatbot.integrations.models import WebhookSubscription
from chatbot.knowledge.models import Article


def test_the_schema_describes_every_endpoint_and_the_key_scheme():
    answer = Client().get("/api/v1/schema/", {"format": "json"})
    assert answer.status_code == 200
    schema = answer.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert {
        "/api/v1/conversations/",
        "/api/v1/conversations/{id}/",
        "/api/v1/conversations/{id}/close/",
        "/api/v1/conversations/{id}/messages/",
        "/api/v1/conversations/{id}/transcript/",
        "/api/v1/transcripts/",
        "/api/v1/articles/",
        "/api/v1/articles/{id}/",
        "/api/v1/articles/import/",
        "/api/v1/metrics/",
        "/api/v1/webhooks/",
        "/api/v1/webhooks/{id}/",
        "/api/v1/webhooks/{id}/deliveries/",
    } <= set(schema["paths"])


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_the_docs_pages_load_their_assets_from_this_server(page):
    answer = Client().get(page)
    assert answer.status_code == 200
    html = answer.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert assets and all(a.startswith("/static/drf_spectacular_sidecar/") for a in assets)
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset
    assert "cdn" not in html.lower()


IDS: dict[str, int] = {}
KEY: dict[str, str] = {}
# Loaded at collection (pytest-django has set Django up by then); no database is needed for it.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@schema.hook("map_path_parameters")
def real_ids(ctx, path_parameters):
    """Point ids at real objects of the key's store, so operations do more than answer 404."""
    if path_parameters and "id" in path_parameters:
        path_parameters["id"] = IDS[ctx.operation.path.split("/")[3]]
    return path_parameters


@schema.hook("map_query")
def short_waits(ctx, query):
    if query and (query.get("wait") or query.get("stream")):
        query["timeout"] = 1  # a reopened conversation would wait for a reply
    return query


@pytest.fixture
def seeded(store, transactional_db):
    """One object of each kind for the generated ids to point at, and a key."""
    conversation = Conversation.objects.create(
        store=store, shopper_id=uuid.uuid4().hex, state=Conversation.State.HUMAN
    )
    Message.objects.create(conversation=conversation, role="shopper", text="Hi")
    article = Article.objects.create(store=store, title="Returns", body="30 days.")
    hook = WebhookSubscription.objects.create(
        store=store, url="http://127.0.0.1:9/", events=["message.created"]
    )
    IDS.update(conversations=conversation.pk, articles=article.pk, webhooks=hook.pk)
    KEY["full"] = key_client(store, "read", "write", rate_limit="1000000/min").full_key


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_no_server_error_anywhere(case, seeded):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {KEY['full']}"}, checks=[not_a_server_error]
    )
