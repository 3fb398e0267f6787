"""The JSON that webhook events carry about conversations and messages (the API returns the same
fields)."""

from chatbot.conversations.models import Conversation, Message


def conversation(item: Conversation) -> dict:
    return {
        "id": item.pk,
        "shopper_id": item.shopper_id,
        "verified_identity": item.verified_identity,
        "state": item.state,
        "outcome": item.outcome,
        "csat": item.csat,
        "created": item.created.isoformat(),
        "last_activity": item.last_activity.isoformat(),
    }


def message(item: Message) -> dict:
    return {
        "id": item.pk,
        "conversation": item.conversation_id,
        "role": item.role,
        "text": item.text,
        "client_msg_id": item.client_msg_id,
        "created": item.created.isoformat(),
    }
