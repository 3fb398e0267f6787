"""Dashboard transitions change conversations with QuerySet.update(), so they emit their webhook
events themselves: each transition below must leave exactly the deliveries it stands for."""

from dashboard_data import conversation

from chatbot.conversations import outcomes
from chatbot.integrations.models import WebhookDelivery, WebhookSubscription

EVENTS = ["conversation.escalated", "conversation.resolved", "csat.submitted"]


def delivered(store) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(subscription__store=store)
        .order_by("pk")
        .values_list("event", flat=True)
    )


def subscribe(store):
    WebhookSubscription.objects.create(store=store, url="http://127.0.0.1:9/hook", events=EVENTS)


def test_take_over_then_resolve_by_staff_emit_escalated_then_resolved(store_a, agent_a):
    subscribe(store_a)
    chat = conversation(store_a, [("shopper", "Refund?", None), ("bot", "Let me check.", None)])
    assert outcomes.take_over(chat, agent_a)
    assert outcomes.resolve_by_staff(chat, agent_a)
    assert delivered(store_a) == ["conversation.escalated", "conversation.resolved"]


def test_bot_escalation_is_announced_once_even_when_staff_then_take_over(store_a, agent_a):
    subscribe(store_a)
    chat = conversation(store_a, [("shopper", "A person please", None)])
    assert outcomes.escalate(chat.pk, by="shopper")
    assert outcomes.take_over(chat, agent_a)
    assert delivered(store_a) == ["conversation.escalated"]


def test_a_confirming_rating_emits_csat_and_resolution_a_low_one_only_csat(store_a, store_b):
    subscribe(store_a)
    subscribe(store_b)
    happy = conversation(store_a, [("shopper", "Sizes?", None), ("bot", "S to XL.", None)])
    unhappy = conversation(store_b, [("shopper", "Sizes?", None), ("bot", "S to XL.", None)])
    assert outcomes.record_csat(happy.pk, 5)
    assert not outcomes.record_csat(unhappy.pk, 1)
    assert delivered(store_a) == ["csat.submitted", "conversation.resolved"]
    assert delivered(store_b) == ["csat.submitted"]
