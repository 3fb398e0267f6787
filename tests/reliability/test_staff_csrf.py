"""CSRF protection on every staff page: a POST without the form's token is refused (403) and changes
nothing, whichever page it targets (found from the URL patterns, so new pages are covered too); the
staff socket refuses other sites' pages."""

import pytest
from asgiref.sync import sync_to_async
from dashboard_sockets import staff
from dashboard_staff import PASSWORD, logged_in, make_staff
from django.test import Client
from django.urls import reverse

from chatbot.conversations.models import Conversation, Message
from chatbot.dashboard import urls as dashboard_urls
from chatbot.dashboard.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin(store):
    return make_staff("store-admin", store, role=Membership.Role.ADMIN, is_staff=True)


@pytest.fixture
def conversation(store):
    conversation = Conversation.objects.create(store=store, shopper_id="shopper-0001")
    Message.objects.create(conversation=conversation, role="shopper", text="Hello?")
    return conversation


def staff_urls(store, conversation) -> list[str]:
    """Every dashboard page (reports included), and the admin's store page."""
    urls = []

    def walk(patterns, namespace):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):  # an include()
                walk(pattern.url_patterns, f"{namespace}:{pattern.namespace}")
                continue
            converters = pattern.pattern.converters
            kwargs = {}
            if "pk" in converters:
                kwargs["pk"] = store.pk if pattern.name.startswith("store") else conversation.pk
            if "after" in converters:
                kwargs["after"] = 0
            if "name" in converters:
                kwargs["name"] = "conversations.csv"
            urls.append(reverse(f"{namespace}:{pattern.name}", kwargs=kwargs))

    walk(dashboard_urls.urlpatterns, "dashboard")
    return urls + [f"/admin/stores/store/{store.pk}/change/", "/admin/login/"]


def snapshot(store, conversation):
    store.refresh_from_db()
    conversation.refresh_from_db()
    return (
        store.name,
        store.allowed_origins,
        conversation.state,
        conversation.outcome,
        list(conversation.messages.values_list("text", flat=True)),
    )


def test_a_post_without_the_csrf_token_is_refused_everywhere(store, conversation, admin):
    client = logged_in(admin, enforce_csrf_checks=True)
    before = snapshot(store, conversation)
    urls = staff_urls(store, conversation)
    assert len(urls) >= 12
    form = {"text": "Forged", "name": "Forged", "state": "resolved", "tag": "x", "user": admin.pk}
    for url in urls:
        response = client.post(url, form)
        assert response.status_code == 403, (url, response.status_code)
    assert snapshot(store, conversation) == before


def test_the_same_post_with_the_token_goes_through(store, conversation, admin):
    """So the 403 above is the CSRF check, not something else refusing."""
    client = logged_in(admin, enforce_csrf_checks=True)
    client.get(reverse("dashboard:conversation", kwargs={"pk": conversation.pk}))
    token = client.cookies["csrftoken"].value
    response = client.post(
        reverse("dashboard:take_over", kwargs={"pk": conversation.pk}),
        {"csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.HUMAN


def test_logging_in_needs_the_token_too(admin):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("dashboard:login"), {"username": admin.username, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("origin", ["https://evil.example", "null", None])
async def test_the_staff_socket_refuses_other_sites(store, admin, origin):
    client = await sync_to_async(logged_in)(admin)
    assert not await staff(client, origin=origin or "").connect()
