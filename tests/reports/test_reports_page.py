"""The reports page shows the user's stores only, over the chosen range."""

import pytest
from dashboard_data import conversation
from dashboard_staff import logged_in, make_staff, make_store
from django.urls import reverse

pytestmark = pytest.mark.django_db(transaction=True)


def test_reports_cover_only_the_users_stores(transactional_db):
    mine, theirs = make_store("mine"), make_store("theirs")
    conversation(mine, [("shopper", "q", None)])
    conversation(theirs, [("shopper", "q", None)])
    conversation(theirs, [("shopper", "q", None)])
    client = logged_in(make_staff("agent", mine))
    page = reverse("dashboard:reports:page")

    response = client.get(page)
    report = response.context["report"]
    assert [row["store"] for row in report["stores"]] == ["Mine"]
    assert report["totals"]["dialogues"] == 1
    assert response.content.decode().count("<canvas") == 7

    # Asking for the other store by id is refused and falls back to the user's own stores.
    response = client.get(page, {"store": theirs.pk})
    assert response.context["form"].errors
    assert response.context["report"]["totals"]["dialogues"] == 1
    response = client.get(page, {"start": "2026-03-05", "end": "2026-03-01"})
    assert "The range ends before it starts." in response.content.decode()


def test_api_completions_show_apart_and_only_the_users_own(transactional_db):
    from chatbot.api.models import CompletionUsage

    mine, theirs = make_store("mine"), make_store("theirs")
    for n, store in enumerate([mine, theirs, theirs]):
        CompletionUsage.objects.create(
            store=store, request_id=f"r{n}", prompt_tokens=7, completion_tokens=3,
            engine_seconds=1, shared_engine_seconds=1, finish_reason="stop",
        )  # fmt: skip
    client = logged_in(make_staff("agent", mine))
    page = client.get(reverse("dashboard:reports:page")).content.decode()
    assert "1 requests, 7 prompt and 3 completion tokens" in page
    CompletionUsage.objects.filter(store=mine).delete()
    assert (
        'id="api-completions"' not in client.get(reverse("dashboard:reports:page")).content.decode()
    )
