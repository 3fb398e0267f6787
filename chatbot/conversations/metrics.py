"""A store's results over the conversations created in a date range: how many were resolved, and
what the dialogues cost.

Cost is what replies are billed on: each reply's share of batched engine time
(`shared_engine_seconds`) at the store's hourly price of the inference host.
"""

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, Sum

from .models import Conversation, Message

# Outcome the dashboard records when the bot resolved a dialogue without a person.
RESOLVED_BY_BOT = "resolved_bot"
ESCALATED_OUTCOMES = ("escalated", "resolved_staff")
PLACES = Decimal("0.000001")


def _ratio(part, whole):
    return None if not whole else part / whole


def summary(store, created_after: datetime | None, created_before: datetime | None) -> dict:
    conversations = Conversation.objects.filter(store=store)
    if created_after is not None:
        conversations = conversations.filter(created__gte=created_after)
    if created_before is not None:
        conversations = conversations.filter(created__lt=created_before)
    counts = conversations.aggregate(
        total=Count("pk"),
        resolved=Count("pk", filter=Q(state=Conversation.State.RESOLVED)),
        resolved_by_bot=Count("pk", filter=Q(outcome=RESOLVED_BY_BOT)),
        escalated=Count(
            "pk",
            filter=Q(state=Conversation.State.ESCALATED) | Q(outcome__in=ESCALATED_OUTCOMES),
        ),
    )
    seconds = Message.objects.filter(
        conversation__in=conversations, role=Message.Role.BOT
    ).aggregate(s=Sum("shared_engine_seconds"))["s"]
    cost = (Decimal(str(seconds or 0)) / 3600 * store.hourly_price).quantize(PLACES)
    total, resolved = counts["total"], counts["resolved"]
    per_dialogue = _ratio(cost, total)
    per_resolution = _ratio(cost, resolved)
    return {
        "created_after": created_after,
        "created_before": created_before,
        "conversations": total,
        "resolved": resolved,
        "resolved_by_bot": counts["resolved_by_bot"],
        "escalated": counts["escalated"],
        "resolution_rate": _ratio(resolved, total),
        "bot_resolution_rate": _ratio(counts["resolved_by_bot"], total),
        "cost": cost,
        "cost_per_dialogue": None if per_dialogue is None else per_dialogue.quantize(PLACES),
        "cost_per_resolution": None if per_resolution is None else per_resolution.quantize(PLACES),
        "currency": store.currency,
    }
