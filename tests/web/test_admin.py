"""Everything is visible and searchable in the Django admin."""

import pytest

from chatbot.conversations.models import Conversation, Message
from chatbot.knowledge.models import Article
from chatbot.stores.models import Store


@pytest.fixture
def data(db):
    store = Store.objects.create(name="Admin Shop", slug="admin-shop")
    conversation = Conversation.objects.create(store=store, shopper_id="shopper-123456")
    Message.objects.create(conversation=conversation, role="shopper", text="parcel lost in transit")
    Message.objects.create(
        conversation=conversation, role="bot", text="Sorry!", model="m", completion_tokens=3
    )
    Article.objects.create(store=store, title="Parcels", body="We track every parcel.")
    return conversation


@pytest.mark.parametrize(
    "changelist, query, expected",
    [
        ("stores/store", "Admin Shop", "admin-shop"),
        ("conversations/conversation", "transit", "shopper-123456"),
        ("conversations/message", "parcel lost", "parcel lost in transit"),
        ("knowledge/article", "track every", "Parcels"),
    ],
)
def test_changelists_search(admin_client, data, changelist, query, expected):
    found = admin_client.get(f"/admin/{changelist}/", {"q": query})
    assert found.status_code == 200
    assert expected in found.content.decode()
    missing = admin_client.get(f"/admin/{changelist}/", {"q": "zzz-no-such-thing"})
    assert expected not in missing.content.decode()


def test_conversation_page_shows_its_messages(admin_client, data):
    page = admin_client.get(f"/admin/conversations/conversation/{data.pk}/change/")
    assert page.status_code == 200
    assert "parcel lost in transit" in page.content.decode()
