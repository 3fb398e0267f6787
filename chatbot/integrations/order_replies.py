"""The order-status step of a reply: when the shopper asks where their order is, the answer comes
from the store's order system, worded here, never from the model (which would invent a status).

`reply_stream` is called by the reply worker before the engine; it returns None for every other
message, and the model answers as usual.
"""

import re
from dataclasses import asdict, dataclass

from . import orders
from .identity import integration_for

ORDER_WORDS = re.compile(r"\b(orders?|package|parcel|shipment|purchase)\b", re.IGNORECASE)
STATUS_WORDS = re.compile(
    r"\b(where|status|track(ing)?|shipped|ship|arriv\w*|deliver\w*|sent|dispatched|late)\b",
    re.IGNORECASE,
)
# An order number: "#1001", "order A-1001", "order no. 1001", "order number is 1001" (needs a digit).
NUMBER = re.compile(
    r"(?:#|\b(?:order|number|no|nr|id)\b\.?(?:\s*(?:[:#]|is\b|was\b|number\b|no\b\.?|nr\b\.?|id\b))*)"
    r"\s*([A-Za-z0-9][A-Za-z0-9_-]{1,63})",
    re.IGNORECASE,
)
PERSON = "Would you like me to connect you with a person from our team?"
ASK_NUMBER = "I can look that up for you. What is your order number?"
MODEL = "parley-order-status"
BARE_NUMBER = re.compile(r"^\W*#?\s*([A-Za-z0-9][A-Za-z0-9_-]{1,63})\W*$")


def order_question(text: str) -> tuple[bool, str]:
    """(is this an order-status question, the order number if one is given)."""
    numbers = [n for n in NUMBER.findall(text) if any(c.isdigit() for c in n)]
    asked = bool(ORDER_WORDS.search(text)) and (bool(STATUS_WORDS.search(text)) or bool(numbers))
    return asked, numbers[-1] if numbers else ""


def answer(integration, customer_id: str, text: str) -> str | None:
    """The reply to an order-status question, or None when `text` is not one."""
    asked, number = order_question(text)
    if not asked:
        return None
    if not customer_id:
        return (
            "I can only share order details with signed-in customers. Please sign in to your "
            f"account on our site and ask me again. {PERSON}"
        )
    if not number:
        return ASK_NUMBER
    return wording(orders.lookup(integration, customer_id, number))


def wording(result: orders.OrderStatus | orders.LookupFailure) -> str:
    if isinstance(result, orders.OrderStatus):
        parts = [f"Your order {result.order} is {result.status}."]
        if result.carrier and result.tracking_number:
            parts.append(f"It is with {result.carrier}, tracking number {result.tracking_number}.")
        elif result.carrier or result.tracking_number:
            parts.append(f"Shipping: {result.carrier or result.tracking_number}.")
        if result.expected_delivery:
            parts.append(f"Expected delivery: {result.expected_delivery}.")
        return " ".join(parts)
    match result.reason:
        case orders.Failure.NOT_FOUND | orders.Failure.NOT_YOURS:
            # The same words for both: whether someone else's order exists is not ours to tell.
            return (
                f"I couldn't find order {result.order} on your account. Please check the number. "
                + PERSON
            )
        case orders.Failure.NOT_CONFIGURED:
            return f"I can't check order status in this chat. {PERSON}"
    return (
        "I'm sorry, I can't reach our order system right now, so I can't tell you the status of "
        f"order {result.order}. {PERSON}"
    )


@dataclass
class FixedUsage:
    """Engine-shaped usage for a reply no model produced (it costs no engine time)."""

    model: str = MODEL
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    engine_seconds: float = 0.0
    shared_engine_seconds: float = 0.0
    time_to_first_token: float | None = None
    finish_reason: str = "stop"

    def as_dict(self) -> dict:
        return asdict(self)


class FixedStream:
    """A finished reply with the engine stream's interface: deltas (word by word), then usage."""

    def __init__(self, text: str, request_id: str):
        self.request_id = request_id
        self.usage = FixedUsage()
        self._words = re.findall(r"\S+\s*", text)

    def __iter__(self):
        return iter(self._words)


def reply_stream(conversation, pending, request_id: str) -> FixedStream | None:
    """A ready reply when the pending messages ask about an order, else None (the model answers).

    A bare number right after we asked for one counts as the order number.
    """
    text = "\n".join(message.text for message in pending)
    if not order_question(text)[0]:
        bare = BARE_NUMBER.match(pending[-1].text)
        if not (bare and any(c.isdigit() for c in bare[1]) and _asked_for_number(conversation)):
            return None
        text = f"Where is my order #{bare[1]}?"
    integration = integration_for(conversation.store)
    reply = answer(integration, conversation.verified_identity, text)
    return None if reply is None else FixedStream(reply, request_id)


def _asked_for_number(conversation) -> bool:
    last = conversation.messages.filter(role="bot").order_by("-pk").first()
    return last is not None and last.model == MODEL and last.text == ASK_NUMBER
