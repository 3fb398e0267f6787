"""Exports (CSV and JSON) and full-text search over transcripts."""

import csv
import io
import json

import pytest
from dashboard_data import at, conversation
from dashboard_staff import logged_in
from django.db import connection
from django.urls import reverse

from chatbot.dashboard import search

pytestmark = pytest.mark.django_db(transaction=True)

USAGE = {
    "model": "smollm2-135m-instruct",
    "prompt_tokens": 120,
    "cached_prompt_tokens": 64,
    "completion_tokens": 30,
    "engine_seconds": 2.0,
    "shared_engine_seconds": 1.0,
    "time_to_first_token": 0.25,
    "finish_reason": "stop",
}


@pytest.fixture
def chat(store_a):  # store_a costs 3.6 per hour: 1 s of shared engine time costs 0.001
    return conversation(
        store_a,
        [
            (
                "shopper",
                '=HYPERLINK("http://evil") Do your boots run small?',
                at("2026-03-01 10:00:00"),
            ),
            ("bot", "Our boots run half a size small.", at("2026-03-01 10:00:02"), USAGE),
            ("shopper", "Thanks, and shipping to Canada?", at("2026-03-01 10:01:00")),
        ],
        created=at("2026-03-01 10:00:00"),
        csat=4,
    )


def download(client, name, **query) -> str:
    response = client.get(reverse("dashboard:export", args=[name]), query)
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_messages_csv_has_every_message_its_usage_and_cost(agent_a, chat):
    rows = list(
        csv.DictReader(io.StringIO(download(logged_in(agent_a), "messages.csv", state="all")))
    )
    assert [r["role"] for r in rows] == ["shopper", "bot", "shopper"]
    # A cell a spreadsheet would run as a formula is kept as text.
    assert rows[0]["text"] == '\'=HYPERLINK("http://evil") Do your boots run small?'
    bot = rows[1]
    assert bot["text"] == "Our boots run half a size small."
    assert (bot["prompt_tokens"], bot["cached_prompt_tokens"], bot["completion_tokens"]) == (
        "120",
        "64",
        "30",
    )
    assert float(bot["cost"]) == pytest.approx(1.0 / 3600 * 3.6)
    assert rows[0]["cost"] == "" and bot["finish_reason"] == "stop"


def test_conversations_csv_and_json(agent_a, chat):
    client = logged_in(agent_a)
    (row,) = csv.DictReader(io.StringIO(download(client, "conversations.csv", state="all")))
    assert (row["conversation"], row["messages"], row["bot_replies"], row["csat"]) == (
        str(chat.pk),
        "3",
        "1",
        "4",
    )
    assert float(row["cost"]) == pytest.approx(0.001)
    (record,) = json.loads(download(client, "conversations.json", state="all"))
    assert record["conversation"] == chat.pk and record["currency"] == "USD"
    assert [m["text"] for m in record["messages"]][1] == "Our boots run half a size small."
    assert record["messages"][1]["time_to_first_token"] == 0.25
    # Filters apply to exports too: the conversation is open, so "resolved" exports nothing.
    assert json.loads(download(client, "conversations.json", state="resolved")) == []
    assert download(client, "conversations.csv", start="2026-03-02").count("\n") == 1  # header


def test_search_finds_words_in_transcripts(agent_a, chat, store_a):
    conversation(store_a, [("shopper", "Do you sell umbrellas?", None)])
    client = logged_in(agent_a)
    results = client.get(reverse("dashboard:search"), {"q": "canada"}).context["results"]
    assert [r["conversation"].pk for r in results] == [chat.pk]
    (hit,) = results[0]["hits"]
    assert hit["snippet"] == ("Thanks, and shipping to ", "Canada", "?")
    assert client.get(reverse("dashboard:search"), {"q": "trampoline"}).context["results"] == []
    page = client.get(reverse("dashboard:search"), {"q": "<b>boots</b>"}).content.decode()
    assert "&lt;b&gt;boots&lt;/b&gt;" in page and "<b>boots</b>" not in page


@pytest.mark.skipif(connection.vendor != "postgresql", reason="stemming is PostgreSQL's")
def test_postgres_search_stems_and_understands_web_syntax(agent_a, chat, store_a):
    other = conversation(store_a, [("shopper", "My boot broke, can I return it?", None)])
    found = {
        m.conversation_id for m in search.matching_messages(store_a.conversations.all(), "boot")
    }
    assert found == {chat.pk, other.pk}  # "boots" matches "boot"
    found = {
        m.conversation_id
        for m in search.matching_messages(store_a.conversations.all(), "boot -canada -small")
    }
    assert found == {other.pk}
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'dashboard_message_text_search'")
        assert cursor.fetchone() == (1,)
