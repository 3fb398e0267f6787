"""Tenant isolation and permissions on the staff pages: an agent of store A sees and changes only
store A; another store's objects answer 404; settings are for admins; pages need a login and CSRF."""

import pytest
from dashboard_data import conversation
from dashboard_staff import logged_in, make_staff
from django.test import Client
from django.urls import reverse

from chatbot.conversations.models import Conversation, ConversationInfo, Message
from chatbot.dashboard.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chats(store_a, store_b):
    a = conversation(store_a, [("shopper", "Where is my order? boots", None)])
    b = conversation(store_b, [("shopper", "Secret of store B: boots", None)])
    return a, b


def url(name, *args):
    return reverse(f"dashboard:{name}", args=args)


def test_pages_need_a_login(chats):
    a, _ = chats
    for path in [url("inbox"), url("conversation", a.pk), reverse("dashboard:reports:page")]:
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(url("login"))


def test_agent_gets_404_for_another_stores_conversation(agent_a, chats):
    a, b = chats
    client = logged_in(agent_a)
    assert client.get(url("conversation", a.pk)).status_code == 200
    assert client.get(url("conversation", b.pk)).status_code == 404
    assert client.get(url("messages_after", b.pk, 0)).status_code == 404
    for action in ["take_over", "hand_back", "resolve", "assign", "tags"]:
        assert client.post(url(action, b.pk), {"tags": "x", "assignee": ""}).status_code == 404
    assert client.post(url("send", b.pk), {"text": "hello from A"}).status_code == 404
    b.refresh_from_db()
    assert b.state == Conversation.State.BOT
    assert not Message.objects.filter(conversation=b, role="staff").exists()
    assert not ConversationInfo.objects.filter(conversation=b).exists()


def test_inbox_lists_only_the_agents_stores(agent_a, agent_b, chats):
    a, b = chats
    rows = logged_in(agent_a).get(url("inbox")).context["rows"]
    assert [row["id"] for row in rows] == [a.pk]
    assert rows[0]["last_message"]["text"] == "Where is my order? boots"
    rows = logged_in(agent_b).get(url("inbox")).context["rows"]
    assert [row["id"] for row in rows] == [b.pk]
    # Asking for store B's inbox by id filters to nothing rather than showing it.
    response = logged_in(agent_a).get(url("inbox"), {"store": b.store_id})
    assert response.context["rows"] == []


def test_a_superuser_sees_every_store(chats, transactional_db):
    boss = make_staff("boss", None, is_superuser=True, is_staff=True)
    rows = logged_in(boss).get(url("inbox")).context["rows"]
    assert {row["id"] for row in rows} == {c.pk for c in chats}


def test_exports_and_search_stay_inside_the_agents_stores(agent_a, chats):
    a, b = chats
    client = logged_in(agent_a)
    csv_text = b"".join(client.get(url("export", "messages.csv")).streaming_content).decode()
    assert "Where is my order" in csv_text and "Secret of store B" not in csv_text
    found = client.get(url("search"), {"q": "boots"}).context["results"]
    assert [r["conversation"].pk for r in found] == [a.pk]


def test_store_settings_are_for_the_stores_admins(agent_a, admin_a, store_a, store_b):
    path = url("store_settings", store_a.pk)
    assert logged_in(agent_a).get(path).status_code == 403
    admin = logged_in(admin_a)
    assert admin.get(path).status_code == 200
    assert admin.get(url("store_settings", store_b.pk)).status_code == 404
    response = admin.post(
        path,
        {
            "section": "store",
            "store-name": "Store A",
            "store-system_prompt": "You are Ada, the helper of Store A.",
            "store-hourly_price": "2.50",
            "store-currency": "EUR",
            "store-allowed_origins": "https://a.example\nhttps://www.a.example/",
        },
    )
    assert response.status_code == 302
    store_a.refresh_from_db()
    assert store_a.system_prompt == "You are Ada, the helper of Store A."
    assert str(store_a.hourly_price) == "2.5000" and store_a.currency == "EUR"
    assert store_a.allowed_origins == ["https://a.example", "https://www.a.example"]
    response = admin.post(
        path,
        {
            "section": "hours",
            "hours-weekdays": ["0", "1", "2", "3", "4"],
            "hours-opens": "08:00",
            "hours-closes": "18:00",
            "hours-time_zone": "Europe/Paris",
        },
    )
    assert response.status_code == 302
    assert store_a.support_hours.describe() == "Mon, Tue, Wed, Thu, Fri 08:00–18:00 (Europe/Paris)"
    response = admin.post(path, {"section": "store", "store-hourly_price": "-1"})
    assert response.status_code == 200  # shown again with the error, nothing saved
    store_a.refresh_from_db()
    assert str(store_a.hourly_price) == "2.5000"


def test_assignment_only_to_colleagues_of_the_store(agent_a, admin_a, agent_b, chats):
    a, _ = chats
    client = logged_in(agent_a)
    client.post(url("assign", a.pk), {"assignee": str(agent_b.pk)})
    assert not ConversationInfo.objects.filter(conversation=a, assignee__isnull=False).exists()
    client.post(url("assign", a.pk), {"assignee": str(admin_a.pk)})
    assert ConversationInfo.objects.get(conversation=a).assignee == admin_a
    mine = client.get(url("inbox"), {"assignee": str(admin_a.pk)}).context["rows"]
    assert [row["id"] for row in mine] == [a.pk]
    assert client.get(url("inbox"), {"assignee": "none"}).context["rows"] == []


def test_tags_belong_to_the_store_and_filter_the_inbox(agent_a, chats):
    a, _ = chats
    client = logged_in(agent_a)
    client.post(url("tags", a.pk), {"tags": "refund, VIP ,refund,  late   order "})
    info = ConversationInfo.objects.get(conversation=a)
    assert sorted(t.name for t in info.tags.all()) == ["VIP", "late order", "refund"]
    assert {t.store_id for t in info.tags.all()} == {a.store_id}
    vip = info.tags.get(name="VIP")
    assert [r["id"] for r in client.get(url("inbox"), {"tag": vip.pk}).context["rows"]] == [a.pk]


def test_state_changes_need_a_csrf_token(agent_a, chats):
    a, _ = chats
    client = logged_in(agent_a, enforce_csrf_checks=True)
    assert client.post(url("take_over", a.pk)).status_code == 403
    a.refresh_from_db()
    assert a.state == Conversation.State.BOT


def test_shopper_and_model_text_is_escaped(agent_a, store_a):
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    chat = conversation(store_a, [("shopper", payload, None), ("bot", payload, None)])
    html = logged_in(agent_a).get(url("conversation", chat.pk)).content.decode()
    assert payload not in html
    assert html.count("&lt;script&gt;alert(2)&lt;/script&gt;") == 2
    inbox = logged_in(agent_a).get(url("inbox")).content.decode()
    assert "<script>alert(2)" not in inbox  # the summary JSON escapes < as \u003C


def test_an_agent_without_membership_sees_nothing(chats, transactional_db):
    loner = make_staff("loner", None)
    client = logged_in(loner)
    assert client.get(url("inbox")).context["rows"] == []
    assert client.get(url("conversation", chats[0].pk)).status_code == 404
    assert Membership.objects.filter(user=loner).count() == 0


def test_a_bot_reply_shows_its_route_and_sources_escaped(agent_a, store_a):
    """Staff see why the bot said what it said: the route and the passages it retrieved, the cited
    one marked; passage text is the store's own but still shown as text, never HTML."""
    from chatbot.assistant.models import ReplyTrace, RetrievedPassage

    chat = conversation(store_a, [("shopper", "How long do returns take?", None)])
    reply = Message.objects.create(conversation=chat, role="bot", text="Within 30 days.")
    trace = ReplyTrace.objects.create(message=reply, route="answer", reason="grounded")
    for rank, (label, cited) in enumerate(
        [("Returns › Window", True), ("Shipping <b>x</b>", False)]
    ):
        RetrievedPassage.objects.create(
            trace=trace, rank=rank, label=label, text=f"{label}: <script>alert(1)</script>",
            score=0.9 - rank / 10, cited=cited,
        )  # fmt: skip
    page = logged_in(agent_a).get(url("conversation", chat.pk)).content.decode()
    assert "Answered from the knowledge base: grounded" in page
    assert page.index("Returns › Window") < page.index("Shipping &lt;b&gt;x&lt;/b&gt;")
    assert '<li class="cited">' in page and page.count("<em>cited</em>") == 1
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
