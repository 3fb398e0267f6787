"""Metrics over a date range, from the dashboard's report figures, for the key's store only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chatbot.conversations.models import Conversation, Message


def dialogue(store, outcome="", seconds=0.0):
    conversation = Conversation.objects.create(
        store=store, shopper_id="shopper-01", outcome=outcome
    )
    Message.objects.create(conversation=conversation, role="shopper", text="Hi")
    Message.objects.create(
        conversation=conversation, role="bot", text="Hello", shared_engine_seconds=seconds
    )
    return conversation


def test_resolution_rate_and_costs(api, store, other_store):
    # hourly price 3.60: 1 engine second costs 0.001
    dialogue(store, "resolved_bot", seconds=10)
    dialogue(store, "escalated", seconds=20)
    dialogue(store, "", seconds=30)
    dialogue(other_store, "resolved_bot", seconds=1000)
    today = timezone.localdate().isoformat()
    answer = api.get("/api/v1/metrics/", {"start": today, "end": today})
    assert answer.status_code == 200
    totals = answer.json()["totals"]
    assert totals["dialogues"] == 3 and totals["resolved_by_bot"] == 1
    assert totals["bot_resolution_rate"] == pytest.approx(1 / 3)
    assert totals["cost"] == pytest.approx(0.06)
    assert totals["cost_per_dialogue"] == pytest.approx(0.02)
    assert totals["cost_per_resolution"] == pytest.approx(0.06)
    assert answer.json()["currency"] == "USD"
    assert [d["day"] for d in answer.json()["days"]] == [today]


def test_the_default_range_is_the_last_30_days(api):
    data = api.get("/api/v1/metrics/").json()
    assert data["end"] == timezone.localdate().isoformat()
    assert len(data["days"]) == 30 and data["totals"]["dialogues"] == 0


@pytest.mark.parametrize(
    "query, field",
    [
        ({"start": "2025-02-02", "end": "2025-02-01"}, "end"),
        ({"start": "2020-01-01", "end": "2025-01-01"}, "end"),
        ({"start": "last week"}, "start"),
    ],
)
def test_metrics_validation(api, query, field):
    answer = api.get("/api/v1/metrics/", query)
    assert answer.status_code == 400
    assert field in {e["field"] for e in answer.json()["errors"]}


def test_a_day_outside_the_range_is_not_counted(api, store):
    old = dialogue(store, "resolved_bot", seconds=10)
    Conversation.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=40))
    assert api.get("/api/v1/metrics/").json()["totals"]["dialogues"] == 0
