"""The report figures on a known set of dialogues, each expected value worked out by hand here."""

import io
import json
from datetime import date

import numpy as np
import pytest
from dashboard_data import at, conversation
from django.core.management import call_command
from django.utils import timezone

from chatbot.reports import metrics
from chatbot.stores.models import Store

pytestmark = pytest.mark.django_db(transaction=True)


def usage(seconds, prompt, cached, completion):
    return {
        "shared_engine_seconds": seconds,
        "engine_seconds": seconds * 2,
        "prompt_tokens": prompt,
        "cached_prompt_tokens": cached,
        "completion_tokens": completion,
        "time_to_first_token": 0.1,
        "finish_reason": "stop",
    }


@pytest.fixture
def shops(transactional_db):
    # 3.6 an hour is 0.001 a second; 7.2 an hour is 0.002 a second.
    return (
        Store.objects.create(name="One", slug="one", hourly_price="3.6"),
        Store.objects.create(name="Two", slug="two", hourly_price="7.2"),
    )


@pytest.fixture
def dialogues(shops):
    one, two = shops
    day1, day2 = "2026-03-01", "2026-03-02"
    made = {
        "c1": conversation(  # bot answers twice (10 s + 20 s), confirmed with a 5: 0.030
            one,
            [
                ("shopper", "q", at(f"{day1} 10:00:00")),
                ("bot", "a", at(f"{day1} 10:00:02"), usage(10, 100, 0, 20)),
                ("shopper", "q", at(f"{day1} 10:01:00")),
                ("bot", "a", at(f"{day1} 10:01:03"), usage(20, 150, 100, 30)),
            ],
            created=at(f"{day1} 10:00:00"),
            outcome="resolved_bot",
            csat=5,
        ),
        "c2": conversation(  # one bot answer (5 s), then a person: 0.005
            one,
            [
                ("shopper", "q", at(f"{day1} 11:00:00")),
                ("bot", "a", at(f"{day1} 11:00:04"), usage(5, 80, 0, 10)),
                ("shopper", "a human please", at(f"{day1} 11:01:00")),
                ("system", "someone will join", at(f"{day1} 11:01:00")),
                ("staff", "hi", at(f"{day1} 11:02:00")),
            ],
            created=at(f"{day1} 11:00:00"),
            outcome="resolved_staff",
            csat=3,
        ),
        "c3": conversation(  # never answered
            two,
            [("shopper", "q", at(f"{day1} 12:00:00"))],
            created=at(f"{day1} 12:00:00"),
            outcome="abandoned",
        ),
        "c4": conversation(  # 15 s at 0.002: 0.030
            two,
            [
                ("shopper", "q", at(f"{day2} 09:00:00")),
                ("bot", "a", at(f"{day2} 09:00:08"), usage(15, 200, 50, 40)),
            ],
            created=at(f"{day2} 09:00:00"),
            outcome="resolved_bot",
        ),
        "c5": conversation(  # taken over before the bot answered; still open
            two,
            [("shopper", "q", at(f"{day2} 09:30:00")), ("staff", "a", at(f"{day2} 09:30:30"))],
            created=at(f"{day2} 09:30:00"),
            state="human",
            outcome="escalated",
        ),
        # Not counted: before the range, and a widget opened without a word.
        "early": conversation(
            one,
            [("shopper", "q", None), ("bot", "a", None, usage(99, 1, 0, 1))],
            created=at("2026-02-28 23:59:59"),
            outcome="resolved_bot",
        ),
        "empty": conversation(one, [], created=at(f"{day2} 10:00:00")),
    }
    return made


def test_a_reply_costs_its_share_of_engine_time_at_the_hourly_price():
    assert metrics.reply_cost(90, "3.6") == pytest.approx(0.09)
    assert metrics.reply_cost(None, "3.6") == 0.0


@pytest.mark.parametrize("values", [[2.0], [2.0, 4.0, 8.0, 30.0], [5.0, 1.0, 9.0, 3.3, 7.0, 2.0]])
def test_percentiles_agree_with_numpy(values):
    for q in (0, 50, 95, 100):
        assert metrics.percentile(values, q) == pytest.approx(np.percentile(values, q))
    assert metrics.percentile([], 50) is None


def test_totals(dialogues):
    report = metrics.report(date(2026, 3, 1), date(2026, 3, 3))
    totals = report["totals"]
    assert report["currency"] == "USD"
    assert {k: totals[k] for k in ("dialogues", "replies", "resolved_by_bot")} == {
        "dialogues": 5,
        "replies": 4,
        "resolved_by_bot": 2,
    }
    assert (totals["resolved_by_staff"], totals["escalated"], totals["abandoned"]) == (1, 2, 1)
    assert totals["cost"] == pytest.approx(0.030 + 0.005 + 0.030)
    assert totals["cost_per_reply"] == pytest.approx(0.065 / 4)
    assert totals["cost_per_dialogue"] == pytest.approx(0.065 / 5)
    assert totals["cost_per_resolution"] == pytest.approx(0.065 / 2)
    assert totals["bot_resolution_rate"] == pytest.approx(2 / 5)
    assert totals["escalation_rate"] == pytest.approx(2 / 5)
    assert (totals["csat"], totals["csat_responses"]) == (4.0, 2)
    waits = [2, 4, 8, 30]  # first answers after the first shopper message, in seconds
    assert totals["first_response_p50"] == pytest.approx(np.percentile(waits, 50)) == 6.0
    assert totals["first_response_p95"] == pytest.approx(np.percentile(waits, 95))
    assert totals["tokens_per_dialogue"] == pytest.approx((120 + 180 + 90 + 240) / 5)
    assert (totals["prompt_tokens"], totals["cached_prompt_tokens"]) == (530, 150)
    assert totals["completion_tokens"] == 100


def test_per_day_with_empty_days(dialogues):
    days = metrics.report(date(2026, 3, 1), date(2026, 3, 3))["days"]
    assert [d["day"] for d in days] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    first, second, third = days
    assert (first["dialogues"], first["cost"]) == (3, pytest.approx(0.035))
    assert first["cost_per_resolution"] == pytest.approx(0.035)
    assert first["bot_resolution_rate"] == pytest.approx(1 / 3)
    assert first["first_response_p50"] == pytest.approx(3.0)
    assert (second["dialogues"], second["csat"], second["escalation_rate"]) == (2, None, 0.5)
    assert second["first_response_p95"] == pytest.approx(8 + 0.95 * 22)
    assert second["tokens_per_dialogue"] == pytest.approx(120)
    assert third["dialogues"] == 0
    assert third["cost_per_dialogue"] is None and third["bot_resolution_rate"] is None


def test_per_store_and_store_scope(dialogues, shops):
    one, two = shops
    rows = {
        row["store"]: row for row in metrics.report(date(2026, 3, 1), date(2026, 3, 3))["stores"]
    }
    assert rows["One"]["dialogues"] == 2 and rows["One"]["cost"] == pytest.approx(0.035)
    assert rows["Two"]["dialogues"] == 3 and rows["Two"]["cost_per_resolution"] == pytest.approx(
        0.03
    )
    assert rows["Two"]["bot_resolution_rate"] == pytest.approx(1 / 3)
    scoped = metrics.report(date(2026, 3, 1), date(2026, 3, 3), stores=[two])
    assert scoped["totals"]["dialogues"] == 3 and [r["store"] for r in scoped["stores"]] == ["Two"]
    assert metrics.report(date(2026, 3, 1), date(2026, 3, 3), stores=[])["totals"]["dialogues"] == 0
    # Date ranges are inclusive and only count dialogues started inside them.
    assert metrics.report(date(2026, 2, 28), date(2026, 2, 28))["totals"]["dialogues"] == 1
    Store.objects.create(name="Drei", slug="drei", currency="EUR")
    assert metrics.report(date(2026, 3, 1), date(2026, 3, 1))["currency"] is None


def test_report_command_prints_one_json_line(shops):
    one, _ = shops
    now = timezone.now()
    conversation(
        one,
        [("shopper", "q", now), ("bot", "a", now, usage(36, 10, 0, 5))],
        outcome="resolved_bot",
    )
    conversation(one, [("shopper", "q", now)], outcome="abandoned")
    out = io.StringIO()
    call_command("report", "--days", "7", "--json", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    figures = json.loads(lines[0])
    assert figures["cost_per_dialogue"] == pytest.approx(0.036 / 2)
    assert figures["cost_per_resolution"] == pytest.approx(0.036)
    assert figures["bot_resolution_rate"] == 0.5
    assert figures["end"] == timezone.localdate().isoformat()


def test_api_completions_are_billed_apart_from_dialogues(dialogues, shops):
    from chatbot.api.models import ApiKey, CompletionUsage

    one, two = shops
    key, _ = ApiKey.issue(one, "back end", ["completions"])
    for n, (store, seconds, created) in enumerate(
        [(one, 36, "2026-03-01 08:00:00"), (one, 18, "2026-03-02 08:00:00"),
         (two, 9, "2026-03-02 08:00:00"), (one, 99, "2026-02-27 08:00:00")]
    ):  # fmt: skip
        row = CompletionUsage.objects.create(
            store=store, api_key=key if store == one else None, request_id=f"r{n}",
            prompt_tokens=10, completion_tokens=5, engine_seconds=seconds,
            shared_engine_seconds=seconds, finish_reason="stop",
        )  # fmt: skip
        CompletionUsage.objects.filter(pk=row.pk).update(created=at(created))
    result = metrics.report(date(2026, 3, 1), date(2026, 3, 3))
    # 0.001/s for One (36 + 18 s), 0.002/s for Two (9 s); the February one is outside the range
    assert result["api_completions"] == {
        "requests": 3, "prompt_tokens": 30, "completion_tokens": 15,
        "cost": pytest.approx(0.054 + 0.018),
    }  # fmt: skip
    rows = {row["store"]: row for row in result["stores"]}
    assert rows["One"]["api_completions"]["cost"] == pytest.approx(0.054)
    assert rows["Two"]["api_completions"]["requests"] == 1
    assert result["totals"]["cost"] == pytest.approx(0.065)  # dialogues' cost unchanged
