"""The figures store owners look at: what the bot costs, and how often it settles a dialogue alone.

A dialogue is a conversation with at least one shopper message; it counts on the (UTC) day it
started. Cost is billed on engine time shared by the replies batched together:

    reply cost         = shared_engine_seconds / 3600 × store hourly price
    dialogue cost      = sum of its replies' costs
    cost per dialogue  = total cost / dialogues
    cost per resolution = total cost / dialogues resolved by the bot

Rates are shares of all dialogues in the range (open ones included). The price used is the
store's current hourly price. OpenAI-compatible API completions are billed the same way and
reported apart (``api_completions``), so they never enter the cost per dialogue.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from chatbot.api.models import CompletionUsage
from chatbot.conversations.costs import percentile, reply_cost
from chatbot.conversations.models import Conversation, Message
from chatbot.conversations.outcomes import ESCALATED_EVER, Outcome
from chatbot.stores.models import Store


@dataclass(frozen=True)
class Dialogue:
    """What the reports need of one dialogue, read in one query."""

    id: int
    store_id: int
    day: date
    outcome: str
    csat: int | None
    replies: int
    shared_engine_seconds: float
    hourly_price: Decimal
    prompt_tokens: int
    cached_prompt_tokens: int
    completion_tokens: int
    first_response_seconds: (
        float | None
    )  # first bot or staff answer after the first shopper message

    @property
    def cost(self) -> float:
        return reply_cost(self.shared_engine_seconds, self.hourly_price)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _store_ids(stores) -> list[int] | None:
    """Ids of `stores` (Stores or ids), or None for every store."""
    if stores is None:
        return None
    return [s.pk if isinstance(s, Store) else int(s) for s in stores]


def dialogues(start: date, end: date, stores: Iterable | None = None) -> list[Dialogue]:
    """Dialogues started from `start` to `end` (inclusive), of `stores` (Stores or ids; None: all)."""
    bot = Q(messages__role=Message.Role.BOT)
    ids = _store_ids(stores)
    rows = (
        Conversation.objects.filter(Q() if ids is None else Q(store_id__in=ids))
        .filter(created__date__gte=start, created__date__lte=end)
        .annotate(
            shopper_messages=Count("messages", filter=Q(messages__role=Message.Role.SHOPPER)),
            replies=Count("messages", filter=bot),
            seconds=Sum("messages__shared_engine_seconds", filter=bot),
            prompt=Sum("messages__prompt_tokens", filter=bot),
            cached=Sum("messages__cached_prompt_tokens", filter=bot),
            completion=Sum("messages__completion_tokens", filter=bot),
            first_shopper=Min("messages__created", filter=Q(messages__role=Message.Role.SHOPPER)),
            first_answer=Min(
                "messages__created",
                filter=Q(messages__role__in=[Message.Role.BOT, Message.Role.STAFF]),
            ),
        )
        .filter(shopper_messages__gt=0)
        .values(
            "pk",
            "store_id",
            "store__hourly_price",
            "created",
            "outcome",
            "csat",
            "replies",
            "seconds",
            "prompt",
            "cached",
            "completion",
            "first_shopper",
            "first_answer",
        )
        .order_by("created")
    )
    return [
        Dialogue(
            id=row["pk"],
            store_id=row["store_id"],
            day=timezone.localdate(row["created"]),
            outcome=row["outcome"],
            csat=row["csat"],
            replies=row["replies"],
            shared_engine_seconds=row["seconds"] or 0.0,
            hourly_price=row["store__hourly_price"],
            prompt_tokens=row["prompt"] or 0,
            cached_prompt_tokens=row["cached"] or 0,
            completion_tokens=row["completion"] or 0,
            first_response_seconds=_seconds_between(row["first_shopper"], row["first_answer"]),
        )
        for row in rows
    ]


def _seconds_between(first: datetime | None, then: datetime | None) -> float | None:
    if first is None or then is None or then < first:
        return None
    return (then - first).total_seconds()


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def figures(items: Iterable[Dialogue]) -> dict:
    """Every report figure for a set of dialogues. Shares and means are None when undefined."""
    items = list(items)
    count = len(items)
    cost = sum(d.cost for d in items)
    replies = sum(d.replies for d in items)
    by_outcome = {o.value: sum(1 for d in items if d.outcome == o) for o in Outcome}
    escalated = sum(1 for d in items if d.outcome in ESCALATED_EVER)
    rated = [d.csat for d in items if d.csat is not None]
    waits = [d.first_response_seconds for d in items if d.first_response_seconds is not None]
    resolved = by_outcome[Outcome.RESOLVED_BY_BOT]
    return {
        "dialogues": count,
        "replies": replies,
        "resolved_by_bot": resolved,
        "resolved_by_staff": by_outcome[Outcome.RESOLVED_BY_STAFF],
        "escalated": escalated,
        "abandoned": by_outcome[Outcome.ABANDONED],
        "cost": cost,
        "cost_per_reply": _ratio(cost, replies),
        "cost_per_dialogue": _ratio(cost, count),
        "cost_per_resolution": _ratio(cost, resolved),
        "bot_resolution_rate": _ratio(resolved, count),
        "escalation_rate": _ratio(escalated, count),
        "csat": _ratio(sum(rated), len(rated)),
        "csat_responses": len(rated),
        "first_response_p50": percentile(waits, 50),
        "first_response_p95": percentile(waits, 95),
        "tokens_per_dialogue": _ratio(sum(d.tokens for d in items), count),
        "prompt_tokens": sum(d.prompt_tokens for d in items),
        "cached_prompt_tokens": sum(d.cached_prompt_tokens for d in items),
        "completion_tokens": sum(d.completion_tokens for d in items),
    }


NO_COMPLETIONS = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}


def api_completions(start: date, end: date, ids: list[int] | None) -> dict[int, dict]:
    """Per store id: requests, tokens and cost of API completions made from `start` to `end`,
    summed by the database (one row per store)."""
    rows = CompletionUsage.objects.filter(created__date__gte=start, created__date__lte=end)
    if ids is not None:
        rows = rows.filter(store_id__in=ids)
    per_store = (
        rows.order_by()
        .values("store_id", "store__hourly_price")
        .annotate(
            requests=Count("id"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            seconds=Sum("shared_engine_seconds"),
        )
    )
    return {
        row["store_id"]: {
            "requests": row["requests"],
            "prompt_tokens": row["prompt"],
            "completion_tokens": row["completion"],
            "cost": reply_cost(row["seconds"], row["store__hourly_price"]),
        }
        for row in per_store
    }


def _sum_usage(parts: Iterable[dict]) -> dict:
    total = dict(NO_COMPLETIONS)
    for part in parts:
        for name in total:
            total[name] += part[name]
    return total


def report(start: date, end: date, stores: Iterable | None = None) -> dict:
    """Totals, one row per day (every day of the range, empty ones included) and one per store.

    Amounts are in the stores' currency; `currency` is None when the stores' currencies differ.
    """
    if end < start:
        raise ValueError("the range ends before it starts")
    ids = _store_ids(stores)
    items = dialogues(start, end, ids)
    store_rows = Store.objects.filter(Q() if ids is None else Q(pk__in=ids)).order_by("name")
    currencies = {s.currency for s in store_rows}
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    usage = api_completions(start, end, ids)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "currency": currencies.pop() if len(currencies) == 1 else None,
        "totals": figures(items),
        "api_completions": _sum_usage(usage.values()),
        "days": [
            {"day": day.isoformat(), **figures(d for d in items if d.day == day)} for day in days
        ],
        "stores": [
            {
                "store_id": store.pk,
                "store": store.name,
                "currency": store.currency,
                **figures(d for d in items if d.store_id == store.pk),
                "api_completions": usage.get(store.pk) or dict(NO_COMPLETIONS),
            }
            for store in store_rows
        ],
    }


def last_days(days: int, today: date | None = None) -> tuple[date, date]:
    """The range of the last `days` days, today included."""
    today = today or timezone.localdate()
    return today - timedelta(days=days - 1), today
