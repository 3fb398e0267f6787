"""Secrets (API keys, webhook signing secrets, order-service credentials, identity secrets) appear in
no log line and no error anyone sees: captured from this process (every logger, DEBUG) and from the
running web and worker processes' output, while the things that use them fail in every way."""

import json
import logging
import time
import urllib.parse
import urllib.request
import uuid

import pytest
from django.test import Client
from live_chat import LiveChat
from local_http import LocalServer
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from chatbot.api import keys
from chatbot.api.models import ApiKey
from chatbot.conversations import services
from chatbot.conversations.models import Conversation
from chatbot.integrations import order_replies, orders
from chatbot.integrations.models import StoreIntegration, WebhookDelivery, WebhookSubscription
from chatbot.integrations.signing import shopper_signature

pytestmark = pytest.mark.django_db(transaction=True)

ORDER_TOKEN = "order-bearer-7Hq2xLw9"
ORDER_PASSWORD = "order-pass-Vv41kPz0"


def secret_of(full_key: str) -> str:
    """The random part of an API key (`keys.KEY`); it may itself hold an underscore."""
    return keys.KEY.match(full_key)[2]


def assert_absent(secrets: list[str], *texts: str) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"a secret ({secret[:6]}...) leaked: ...{text[-300:]}"


@pytest.fixture(autouse=True)
def everything_logged(caplog, settings):
    caplog.set_level(logging.DEBUG)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return caplog


def test_api_keys_stay_out_of_answers_and_logs(store, caplog):
    api_key, full_key = ApiKey.issue(store, "secret-test", ["read"])
    secret_part = secret_of(full_key)
    wrong = full_key[:-6] + "XXXXXX"
    revoked, revoked_key = ApiKey.issue(store, "revoked", ["read"])
    revoked.revoke()
    attempts = [
        Client(HTTP_AUTHORIZATION=f"Bearer {wrong}"),
        Client(HTTP_AUTHORIZATION=f"Token {full_key}"),
        Client(HTTP_AUTHORIZATION=f"Bearer {revoked_key}"),
        Client(HTTP_X_API_KEY=wrong),
        Client(HTTP_AUTHORIZATION=f"Bearer {full_key}"),
    ]
    answers = [client.get("/api/v1/conversations/?shopper_id=x") for client in attempts]
    answers.append(attempts[-1].post("/api/v1/articles/", {}))  # read-only key: refused
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 200, 403]
    bodies = [a.content.decode() + json.dumps(dict(a.headers)) for a in answers]
    assert_absent(
        [secret_part, secret_of(wrong), secret_of(revoked_key)],
        caplog.text,
        *bodies,
    )


def test_webhook_secrets_stay_out_of_delivery_logs(store, webhook_worker, settings, caplog):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    settings.WEBHOOK_BACKOFF_SECONDS = 0.1
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    # The receiver echoes what it got (signature included) in a failing answer, then hangs.
    answers = iter([(500, "got {}", 0), (200, {}, 2)])

    def respond(request):
        status, body, delay = next(answers)
        return status, body.format(json.dumps(request.headers)) if status == 500 else body, delay

    with LocalServer(respond) as receiver:
        subscription = WebhookSubscription.objects.create(
            store=store, url=f"{receiver.url}/hook", events=["message.created"]
        )
        conversation = Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
        services.receive_shopper_message(conversation, "m1", "Hello?")
        receiver.wait_for(2, timeout=30)
        deadline = time.monotonic() + 30
        while (
            WebhookDelivery.objects.filter(subscription=subscription, status="failed").count() < 1
        ):
            assert time.monotonic() < deadline, "the delivery did not finish"
            time.sleep(0.2)
    _, key = ApiKey.issue(store, "reader", ["read"])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    shown = [
        api.get("/api/v1/webhooks/").content.decode(),
        api.get(f"/api/v1/webhooks/{subscription.pk}/").content.decode(),
        api.get(f"/api/v1/webhooks/{subscription.pk}/deliveries/").content.decode(),
        json.dumps(list(WebhookDelivery.objects.values_list("attempt_log", flat=True))),
    ]
    assert_absent([subscription.secret], caplog.text, *shown)


@pytest.mark.parametrize(
    "answer",
    [(500, {"error": "boom"}, 0), (200, "not json", 0), (200, {}, 2), None],
    ids=["error", "garbage", "hangs", "unreachable"],
)
def test_order_service_credentials_stay_out_of_logs_and_replies(store, caplog, answer):
    def lookups(integration):
        result = orders.lookup(integration, "cust-9", "1001")
        return [repr(result), order_replies.wording(result)]

    integration = StoreIntegration.objects.create(store=store, order_timeout_seconds=0.5)
    seen = []
    for auth, secret in [
        ("bearer", ORDER_TOKEN),
        ("basic", ORDER_PASSWORD),
        ("header", ORDER_TOKEN),
    ]:
        integration.order_auth, integration.order_auth_secret = auth, secret
        integration.order_auth_username = "shop"
        if answer is None:
            integration.order_status_url = f"http://shop:{ORDER_PASSWORD}@127.0.0.1:9/orders"
            seen += lookups(integration)
            continue
        with LocalServer(lambda request, answer=answer: answer) as service:
            host = urllib.parse.urlsplit(service.url).netloc
            integration.order_status_url = f"http://shop:{ORDER_PASSWORD}@{host}/orders"
            seen += lookups(integration)
    assert all(seen[1::2]), "every failure got a reply"
    assert_absent([ORDER_TOKEN, ORDER_PASSWORD], caplog.text, *seen)


@pytest.mark.slow
def test_the_running_processes_log_no_secret(live_stack, live_store, caplog):
    """Through the running product: a forged identity, a failing order lookup with credentials,
    wrong API keys; then the web and worker output is searched."""
    if live_stack.embedded:
        pytest.skip("needs the production wiring (REDIS_URL)")
    _, api_key = ApiKey.issue(live_store, "live", ["read"])
    with LocalServer(lambda request: (503, {"error": "down"}, 0)) as service:
        integration = StoreIntegration.objects.create(
            store=live_store,
            order_status_url=f"{service.url}/orders",
            order_auth="bearer",
            order_auth_secret=ORDER_TOKEN,
            order_timeout_seconds=1,
        )
        forged = live_stack.ws_url(live_store.widget_key, uuid.uuid4().hex) + (
            "&customer_id=cust-1&customer_signature=" + shopper_signature("guess", "cust-1")
        )
        with pytest.raises(InvalidStatus):
            connect(forged, origin=live_stack.origin, proxy=None)
        signature = shopper_signature(integration.identity_secret, "cust-1")

        class SignedIn:
            origin = live_stack.origin

            def ws_url(self, key, shopper, conversation=None):
                url = live_stack.ws_url(key, shopper, conversation)
                return f"{url}&customer_id=cust-1&customer_signature={signature}"

        chat = LiveChat(SignedIn(), live_store)
        chat.say("Where is my order #1001?")
        done = chat.until_done(timeout=120)[-1]
        chat.close()
        assert service.received, "the order service was asked"
    for wrong in (api_key[:-6] + "XXXXXX", "sk_nonsense"):
        request = urllib.request.Request(
            f"{live_stack.base_url}/api/v1/conversations/",
            headers={"Authorization": f"Bearer {wrong}"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10)
        assert refused.value.code == 401
    outputs = [process.output() for process in live_stack.processes]
    secrets = [ORDER_TOKEN, integration.identity_secret, secret_of(api_key)]
    assert_absent(secrets, caplog.text, done["text"], *outputs)
