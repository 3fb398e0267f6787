"""A load run's figures, with lost messages counted from the database rather than from what the
clients saw: a message is lost when its ack promised it was stored and it is not there, or when no
reply ever covered it."""

import dataclasses
import math
from dataclasses import asdict, dataclass

from chatbot.conversations.models import Conversation, Message

from .shoppers import Tally


@dataclass(frozen=True)
class Figures:
    shoppers: int
    active: int
    connected: int
    duration_s: float
    connect_s: float
    sent: int
    replies_received: int
    handed_over: int
    lost_messages: int
    errors: int
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    error_kinds: dict[str, int]

    def as_dict(self) -> dict:
        return asdict(self)

    def with_server_errors(self, counts: dict[str, int]) -> "Figures":
        """Add errors the server processes logged (that no shopper may have noticed)."""
        counts = {f"server:{name}": n for name, n in counts.items() if n}
        return dataclasses.replace(
            self,
            errors=self.errors + sum(counts.values()),
            error_kinds={**self.error_kinds, **counts},
        )


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of `values`, None when there are none."""
    if not values:
        return None
    ranked = sorted(values)
    return ranked[max(0, math.ceil(q * len(ranked)) - 1)]


def lost_messages(acked: dict[int, tuple[int, str]]) -> int:
    """Acknowledged messages missing from the database, or stored but never answered."""
    stored = dict(
        Message.objects.filter(pk__in=acked, role=Message.Role.SHOPPER).values_list(
            "pk", "client_msg_id"
        )
    )
    conversations = {conversation for conversation, _ in acked.values()}
    answered = dict(
        Conversation.objects.filter(pk__in=conversations).values_list("pk", "answered_through")
    )
    lost = 0
    for message_id, (conversation, client_msg_id) in acked.items():
        if stored.get(message_id) != client_msg_id or answered.get(conversation, 0) < message_id:
            lost += 1
    return lost


def summarize(tally: Tally, *, shoppers: int, active: int, duration: float, connect_s: float):
    def ms(seconds):
        return None if seconds is None else round(seconds * 1000, 1)

    return Figures(
        shoppers=shoppers,
        active=active,
        connected=tally.connected,
        duration_s=duration,
        connect_s=round(connect_s, 2),
        sent=tally.sent,
        replies_received=tally.replies,
        handed_over=tally.handed_over,
        lost_messages=lost_messages(tally.acked),
        errors=sum(tally.errors.values()),
        ttft_p50_ms=ms(percentile(tally.ttfts, 0.50)),
        ttft_p95_ms=ms(percentile(tally.ttfts, 0.95)),
        error_kinds=dict(tally.errors),
    )
