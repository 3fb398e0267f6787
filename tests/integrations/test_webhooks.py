"""Webhook events: which changes send what, signatures a receiver can check, and delivery by a real
worker to a real local HTTP receiver, with retries and backoff."""

import json
import time
import uuid

from local_http import LocalServer

from chatbot.conversations import services
from chatbot.conversations.models import Conversation, Message
from chatbot.integrations import events, http, signing
from chatbot.integrations.models import WebhookDelivery, WebhookSubscription
from chatbot.stores.models import Store

ALL_EVENTS = events.EVENTS


def subscribe(store, url="http://127.0.0.1:9/hook", events=ALL_EVENTS):
    return WebhookSubscription.objects.create(store=store, url=url, events=list(events))


def sent(subscription) -> list[tuple[str, dict]]:
    rows = WebhookDelivery.objects.filter(subscription=subscription).order_by("id")
    return [(row.event, json.loads(row.body)) for row in rows]


def test_the_signature_covers_id_timestamp_and_body_and_old_ones_are_replays():
    secret, body, now = "whsec_test", '{"a":1}', time.time()
    headers = signing.webhook_headers(secret, "evt-1", int(now), body)
    assert signing.verify_webhook(secret, headers, body, now) == (True, "ok")
    assert signing.verify_webhook(secret, headers, '{"a":2}', now) == (False, "bad signature")
    assert signing.verify_webhook("whsec_other", headers, body, now)[1] == "bad signature"
    moved = dict(headers, **{signing.ID_HEADER: "evt-2"})
    assert signing.verify_webhook(secret, moved, body, now)[1] == "bad signature"
    assert signing.verify_webhook(secret, headers, body, now + 301) == (False, "timestamp too old")
    restamped = dict(headers, **{signing.TIMESTAMP_HEADER: str(int(now) + 100)})
    assert signing.verify_webhook(secret, restamped, body, now + 100)[1] == "bad signature"


def test_conversation_changes_emit_their_events(store):
    subscription = subscribe(store)
    conversation = Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
    message, _ = services.receive_shopper_message(conversation, "m1", "Hi there")
    conversation.refresh_from_db()
    conversation.state = Conversation.State.ESCALATED
    conversation.save()
    conversation.save()  # no change: no second event
    conversation.state = Conversation.State.RESOLVED
    conversation.csat = 5
    conversation.save()
    kinds = [event for event, _ in sent(subscription)]
    assert kinds == [
        "conversation.created",
        "message.created",
        "conversation.escalated",
        "conversation.resolved",
        "csat.submitted",
    ]
    bodies = [body for _, body in sent(subscription)]
    assert bodies[1]["data"]["text"] == "Hi there" and bodies[1]["data"]["id"] == message.pk
    assert bodies[4]["data"]["csat"] == 5
    assert all(body["data"].get("id") for body in bodies)
    assert len({body["id"] for body in bodies}) == 5  # one event id per event


def test_update_based_transitions_emit_through_conversation_event(store):
    subscription = subscribe(store, events=["conversation.escalated"])
    conversation = Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
    Conversation.objects.filter(pk=conversation.pk).update(state=Conversation.State.ESCALATED)
    events.conversation_event(conversation.pk, "conversation.escalated")
    [(event, body)] = sent(subscription)
    assert event == "conversation.escalated" and body["data"]["state"] == "escalated"


def test_only_subscribed_events_of_the_own_store_are_sent(store):
    other = Store.objects.create(name="Other", slug="other")
    mine = subscribe(store, events=["message.created"])
    theirs = subscribe(other)
    inactive = subscribe(store)
    inactive.active = False
    inactive.save()
    conversation = Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
    Message.objects.create(conversation=conversation, role="bot", text="Hello!")
    assert [event for event, _ in sent(mine)] == ["message.created"]
    assert sent(theirs) == [] and sent(inactive) == []


def test_nothing_is_queued_before_the_transaction_commits(store):
    from django.db import transaction

    subscription = subscribe(store)
    with transaction.atomic():
        Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
        assert sent(subscription) == []
    assert len(sent(subscription)) == 1


def test_a_delivery_reaches_a_real_receiver_that_verifies_it(store, webhook_worker):
    with LocalServer(lambda request: (204, "", 0)) as receiver:
        subscription = subscribe(store, url=receiver.url + "/parley", events=["message.created"])
        conversation = Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
        services.receive_shopper_message(conversation, "m1", "Where is my parcel?")
        [request] = receiver.wait_for(1, timeout=20)
    ok, reason = signing.verify_webhook(
        subscription.secret, request.headers, request.body, time.time()
    )
    assert ok, reason
    body = json.loads(request.body)
    assert body["type"] == "message.created" and body["data"]["text"] == "Where is my parcel?"
    assert request.headers[signing.ID_HEADER] == body["id"]
    assert request.path == "/parley" and request.headers["Content-Type"] == "application/json"
    delivery = wait_until_done(subscription)
    assert delivery.status == "succeeded" and delivery.attempts == 1
    assert delivery.attempt_log[0]["status_code"] == 204


def wait_until_done(subscription, timeout=20) -> WebhookDelivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.filter(subscription=subscription).first()
        if delivery and delivery.status in ("succeeded", "failed"):
            return delivery
        time.sleep(0.05)
    raise TimeoutError("the delivery did not finish")


def test_a_failing_receiver_gets_retries_with_growing_backoff_until_it_succeeds(
    store, webhook_worker, settings
):
    settings.WEBHOOK_BACKOFF_SECONDS = 0.4
    answers = iter([500, 503, 200])
    with LocalServer(lambda request: (next(answers), {}, 0)) as receiver:
        subscription = subscribe(store, url=receiver.url, events=["conversation.created"])
        Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
        requests = receiver.wait_for(3, timeout=30)
    delivery = wait_until_done(subscription)
    assert delivery.status == "succeeded" and delivery.attempts == 3
    assert [a["status_code"] for a in delivery.attempt_log] == [500, 503, 200]
    # Same event id every time (receivers deduplicate), each attempt freshly signed.
    assert len({r.headers[signing.ID_HEADER] for r in requests}) == 1
    for request in requests:
        assert signing.verify_webhook(
            subscription.secret, request.headers, request.body, time.time()
        )[0]
    first_gap = requests[1].at - requests[0].at
    second_gap = requests[2].at - requests[1].at
    assert first_gap >= 0.4 and second_gap >= 0.8, (first_gap, second_gap)
    assert subscription.secret not in json.dumps(delivery.attempt_log)


def test_delivery_gives_up_after_the_last_attempt(store, webhook_worker, settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 0.1
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    with LocalServer(lambda request: (500, {}, 0)) as receiver:
        subscription = subscribe(store, url=receiver.url, events=["conversation.created"])
        Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
        receiver.wait_for(3, timeout=30)
        delivery = wait_until_done(subscription)
    assert delivery.status == "failed" and delivery.attempts == 3
    time.sleep(0.5)
    assert len(receiver.received) == 3  # no fourth attempt


def test_a_hanging_receiver_does_not_slow_the_chat_and_times_out(store, webhook_worker, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    with LocalServer(lambda request: (200, {}, 3)) as receiver:
        subscription = subscribe(store, url=receiver.url, events=["message.created"])
        conversation = Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
        started = time.monotonic()
        services.receive_shopper_message(conversation, "m1", "Hello?")
        assert time.monotonic() - started < 0.5
        delivery = wait_until_done(subscription)
    assert delivery.status == "failed"
    assert delivery.attempt_log[0]["error"] == http.UNREACHABLE
    assert delivery.attempt_log[0]["duration_ms"] < 2500


def test_an_unreachable_receiver_is_logged_without_the_url(store, webhook_worker, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    subscription = subscribe(
        store, url="http://user:pa55word@127.0.0.1:9/hook", events=["conversation.created"]
    )
    Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex)
    delivery = wait_until_done(subscription)
    assert delivery.status == "failed" and delivery.attempt_log[0]["status_code"] is None
    assert delivery.attempt_log[0]["error"] == http.UNREACHABLE
    assert "pa55word" not in json.dumps(delivery.attempt_log)
