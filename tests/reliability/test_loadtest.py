"""`manage.py loadtest`: its figures, how it counts lost messages, and its limits."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from chatbot.conversations.models import Conversation, Message
from chatbot.reliability.figures import lost_messages, percentile, summarize
from chatbot.reliability.shoppers import Tally
from chatbot.stores.models import Store

pytestmark = pytest.mark.django_db(transaction=True)


def test_percentiles_are_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (50.0, 95.0)


def test_errors_the_servers_logged_count_as_errors(store):
    tally = Tally(sent=3, replies=3, connected=2)
    tally.errors["frame:reply_failed"] += 1
    figures = summarize(tally, shoppers=2, active=1, duration=1, connect_s=0.1)
    counted = figures.with_server_errors({"uvicorn": 2, "worker": 0})
    assert counted.errors == 3
    assert counted.error_kinds == {"frame:reply_failed": 1, "server:uvicorn": 2}


def test_a_message_is_lost_when_missing_or_never_answered(store):
    conversation = Conversation.objects.create(store=store, shopper_id="shopper-0001")
    answered = Message.objects.create(
        conversation=conversation, role="shopper", text="a", client_msg_id="c1"
    )
    unanswered = Message.objects.create(
        conversation=conversation, role="shopper", text="b", client_msg_id="c2"
    )
    Conversation.objects.filter(pk=conversation.pk).update(answered_through=answered.pk)
    acked = {answered.pk: (conversation.pk, "c1")}
    assert lost_messages(acked) == 0
    assert lost_messages({**acked, unanswered.pk: (conversation.pk, "c2")}) == 1
    assert lost_messages({**acked, unanswered.pk + 100: (conversation.pk, "c3")}) == 1  # not stored
    assert lost_messages({answered.pk: (conversation.pk, "other")}) == 1  # not the one acked


@pytest.mark.parametrize(
    "args",
    [
        ["--server", "http://10.0.0.8:8000"],
        ["--server", "http://example.com"],
        ["--shoppers", "5", "--active", "6"],
        ["--duration", "3600"],
        ["--shoppers", "100000"],
    ],
)
def test_it_refuses_anything_but_loopback_and_bounded_runs(args, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    with pytest.raises(CommandError):
        call_command("loadtest", *args, "--external-worker", "--json")
    assert not Store.objects.exists()


@pytest.mark.slow
def test_a_small_run_against_the_running_product_loses_nothing(live_stack, settings):
    if live_stack.embedded:
        pytest.skip("the load test drives the production wiring (REDIS_URL)")
    settings.REDIS_URL = live_stack.env["REDIS_URL"]
    out = io.StringIO()
    call_command(
        "loadtest",
        "--shoppers", "6", "--active", "2", "--duration", "4", "--grace", "60",
        "--think", "0.2", "--server", live_stack.base_url, "--external-worker", "--json",
        stdout=out,
    )  # fmt: skip
    figures = json.loads(out.getvalue())
    assert figures["connected"] == 6 and figures["sent"] >= 2
    assert figures["replies_received"] == figures["sent"]
    assert 0 <= figures["handed_over"] <= 2  # a handed-over shopper stops: its reply was the last
    assert (figures["lost_messages"], figures["errors"]) == (0, 0)
    assert 0 < figures["ttft_p50_ms"] <= figures["ttft_p95_ms"]
    assert not Store.objects.exists()  # it cleaned up after itself
