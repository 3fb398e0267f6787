"""How the bot words an order lookup for the shopper: the facts the store's order system gave, or
a polite failure with the offer of a person. Never a status the order system did not give.

The assistant's reply pipeline (chatbot.assistant.pipeline) decides when a message asks about an
order, looks it up with `orders.lookup` for the verified customer, and answers with `wording`.
"""

from . import orders

PERSON = "Would you like me to connect you with a person from our team?"


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
        case orders.Failure.UNVERIFIED:
            return (
                "I can only share order details with signed-in customers. Please sign in to your "
                f"account on our site and ask me again. {PERSON}"
            )
        case orders.Failure.NOT_CONFIGURED:
            return f"I can't check order status in this chat. {PERSON}"
    return (
        "I'm sorry, I can't reach our order system right now, so I can't tell you the status of "
        f"order {result.order}. {PERSON}"
    )
