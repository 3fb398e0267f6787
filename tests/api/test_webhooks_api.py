"""Webhook subscriptions through the API: create (secret shown once), list, delete, delivery log."""

import uuid

import pytest

from chatbot.conversations.models import Conversation
from chatbot.integrations.models import WebhookDelivery, WebhookSubscription

WEBHOOKS = "/api/v1/webhooks/"


def post(client, body):
    return client.post(WEBHOOKS, body, content_type="application/json")


def test_create_list_and_delete(api, store):
    answer = post(
        api,
        {
            "url": "https://shop.example/parley",
            "events": ["message.created", "conversation.created", "message.created"],
        },
    )
    assert answer.status_code == 201
    created = answer.json()
    subscription = WebhookSubscription.objects.get(pk=created["id"])
    assert created["secret"] == subscription.secret and created["secret"].startswith("whsec_")
    assert created["events"] == ["conversation.created", "message.created"]
    listed = api.get(WEBHOOKS).json()["results"]
    assert [h["id"] for h in listed] == [subscription.pk]
    assert "secret" not in listed[0]
    assert "secret" not in api.get(f"{WEBHOOKS}{subscription.pk}/").json()
    assert api.delete(f"{WEBHOOKS}{subscription.pk}/").status_code == 204
    assert not WebhookSubscription.objects.filter(pk=subscription.pk).exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://shop.example/x", "events": ["message.created"]}, "url"),
        ({"url": "not a url", "events": ["message.created"]}, "url"),
        ({"url": "https://shop.example/x", "events": []}, "events"),
        ({"url": "https://shop.example/x", "events": ["order.paid"]}, "events[0]"),
        ({"url": "https://shop.example/x"}, "events"),
    ],
)
def test_create_validation(api, body, field):
    answer = post(api, body)
    assert answer.status_code == 400
    assert field in {e["field"] for e in answer.json()["errors"]}
    assert not WebhookSubscription.objects.exists()


def test_the_delivery_log(api, store):
    subscription = WebhookSubscription.objects.create(
        store=store, url="http://127.0.0.1:9/", events=["conversation.created"]
    )
    conversation = Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
    [delivery] = WebhookDelivery.objects.filter(subscription=subscription)
    log = api.get(f"{WEBHOOKS}{subscription.pk}/deliveries/").json()["results"]
    assert [(d["id"], d["event"]) for d in log] == [(delivery.pk, "conversation.created")]
    assert log[0]["event_id"] == str(delivery.event_id)
    assert log[0]["status"] in {"pending", "sending", "retrying", "failed"}
    assert str(conversation.pk) not in log[0].get("secret", "")


@pytest.fixture
def guarded(settings):
    settings.INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = False


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "https://[::1]:8443/hook",
        "http://localhost:6379/",
    ],
)
def test_a_webhook_to_a_private_address_is_refused_when_saved(api, guarded, url):
    answer = post(api, {"url": url, "events": ["message.created"]})
    assert answer.status_code == 400
    assert "private or local network" in str(answer.json())


def test_a_webhook_to_a_public_address_is_saved(api, guarded):
    body = {"url": "https://93.184.216.34/parley", "events": ["message.created"]}
    assert post(api, body).status_code == 201
