"""The admin never renders a stored secret back into a page, and shows a new one (API key, identity
secret, webhook signing secret) once: in the response that created it, not in a flash message
that travels in a cookie and reappears on the next page."""

import re

import pytest

from chatbot.api import keys
from chatbot.api.models import ApiKey
from chatbot.integrations.models import StoreIntegration, WebhookSubscription
from chatbot.stores.models import Store

ORDER_TOKEN = "order-token-" + "x" * 24


@pytest.fixture
def store(db):
    return Store.objects.create(name="Secret Shop", slug="secret-shop")


@pytest.fixture
def integration(store):
    return StoreIntegration.objects.create(
        store=store,
        order_status_url="https://orders.example.com/status",
        order_auth=StoreIntegration.OrderAuth.BEARER,
        order_auth_secret=ORDER_TOKEN,
    )


def change_form(integration, **changes) -> dict:
    data = {
        "store": integration.store_id,
        "identity_secret": "",
        "order_status_url": integration.order_status_url,
        "order_auth": integration.order_auth,
        "order_auth_username": "",
        "order_auth_header": "",
        "order_auth_secret": "",
        "order_timeout_seconds": "3.0",
    }
    return {**data, **changes}


def assert_shown_once(admin_client, response, secret: str, next_page: str):
    assert response.status_code == 200
    assert secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert all(secret not in morsel.value for morsel in response.cookies.values())
    assert secret not in admin_client.get(next_page).content.decode()


def test_stored_secrets_are_not_rendered_into_the_change_form(admin_client, integration):
    page = admin_client.get(f"/admin/integrations/storeintegration/{integration.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert integration.identity_secret not in html
    assert ORDER_TOKEN not in html


def test_blank_keeps_a_stored_secret_and_a_typed_one_replaces_it(admin_client, integration):
    url = f"/admin/integrations/storeintegration/{integration.pk}/change/"
    identity = integration.identity_secret
    assert admin_client.post(url, change_form(integration)).status_code == 302
    integration.refresh_from_db()
    assert (integration.identity_secret, integration.order_auth_secret) == (identity, ORDER_TOKEN)

    answer = admin_client.post(url, change_form(integration, order_auth_secret="new-token-123"))
    assert answer.status_code == 302
    integration.refresh_from_db()
    assert (integration.identity_secret, integration.order_auth_secret) == (
        identity,
        "new-token-123",
    )


def test_a_new_api_key_is_shown_once_in_the_response(admin_client, store):
    answer = admin_client.post(
        "/admin/api/apikey/add/",
        {"store": store.pk, "name": "Shop back end", "scopes": ["read"], "rate_limit": ""},
    )
    api_key = ApiKey.objects.get(store=store)
    full_key = re.search(r"sk_[a-z0-9]+_[A-Za-z0-9_-]+", answer.content.decode())[0]
    assert keys.matches(full_key, api_key.key_digest)
    assert_shown_once(admin_client, answer, full_key, "/admin/api/apikey/")


def test_a_webhook_signing_secret_is_shown_once(admin_client, store):
    answer = admin_client.post(
        "/admin/integrations/webhooksubscription/add/",
        {
            "store": store.pk,
            "url": "https://hooks.example.com/parley",
            "events": '["conversation.created"]',
            "description": "",
            "active": "on",
        },
    )
    subscription = WebhookSubscription.objects.get(store=store)
    assert_shown_once(
        admin_client, answer, subscription.secret, "/admin/integrations/webhooksubscription/"
    )


def test_a_new_and_a_rotated_identity_secret_are_shown_once(admin_client, store):
    answer = admin_client.post(
        "/admin/integrations/storeintegration/add/",
        {
            "store": store.pk,
            "identity_secret": "",
            "order_auth": "none",
            "order_auth_secret": "",
            "order_timeout_seconds": "3.0",
        },
    )
    integration = StoreIntegration.objects.get(store=store)
    changelist = "/admin/integrations/storeintegration/"
    assert_shown_once(admin_client, answer, integration.identity_secret, changelist)

    old = integration.identity_secret
    answer = admin_client.post(
        changelist, {"action": "rotate_identity_secret", "_selected_action": [integration.pk]}
    )
    integration.refresh_from_db()
    assert integration.identity_secret != old
    assert_shown_once(admin_client, answer, integration.identity_secret, changelist)
