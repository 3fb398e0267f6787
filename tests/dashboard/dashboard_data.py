"""Real conversations and messages with chosen timestamps (auto_now_add is overwritten after)."""

import uuid
from datetime import UTC, datetime

from chatbot.conversations.models import Conversation, Message


def at(text: str) -> datetime:
    """An aware UTC datetime from 'YYYY-mm-dd HH:MM:SS'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def conversation(store, messages=(), created=None, **fields) -> Conversation:
    """`messages`: (role, text, created or None[, usage dict]); `fields` go to the Conversation."""
    found = Conversation.objects.create(store=store, shopper_id=uuid.uuid4().hex, **fields)
    for role, text, when, *usage in messages:
        message = Message.objects.create(
            conversation=found, role=role, text=text, **(usage[0] if usage else {})
        )
        if when is not None:
            Message.objects.filter(pk=message.pk).update(created=when)
    updates = {"last_activity": fields["last_activity"]} if "last_activity" in fields else {}
    if created is not None:
        updates["created"] = created
    if updates:
        Conversation.objects.filter(pk=found.pk).update(**updates)
    found.refresh_from_db()
    return found
