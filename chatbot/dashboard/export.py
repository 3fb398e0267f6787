"""Exports of conversations and their messages, as CSV (one row per conversation or per message)
and as JSON (conversations with their messages nested). Streamed, so a large export never sits in
memory. CSV cells that a spreadsheet would run as a formula get a leading apostrophe."""

import csv
import json

from django.db.models import Prefetch

from chatbot.conversations.costs import reply_cost
from chatbot.conversations.models import Message

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONVERSATION_COLUMNS = [
    "conversation",
    "store",
    "shopper",
    "created",
    "last_activity",
    "state",
    "outcome",
    "csat",
    "assignee",
    "tags",
    "messages",
    "bot_replies",
    "cost",
    "currency",
]
MESSAGE_COLUMNS = [
    "conversation",
    "store",
    "message",
    "created",
    "role",
    "author",
    "text",
    "model",
    "prompt_tokens",
    "cached_prompt_tokens",
    "completion_tokens",
    "time_to_first_token",
    "engine_seconds",
    "shared_engine_seconds",
    "cost",
    "finish_reason",
]
CHUNK = 500


def with_messages(conversations):
    messages = Message.objects.select_related("staff_author__user").order_by("pk")
    return conversations.select_related("store").prefetch_related(
        Prefetch("messages", queryset=messages), "staff_info__tags"
    )


def _info(conversation):
    return getattr(conversation, "staff_info", None)


def conversation_record(conversation) -> dict:
    info = _info(conversation)
    messages = list(conversation.messages.all())
    bot = [m for m in messages if m.role == Message.Role.BOT]
    price = conversation.store.hourly_price
    return {
        "conversation": conversation.pk,
        "store": conversation.store.name,
        "shopper": conversation.shopper_id,
        "created": conversation.created.isoformat(),
        "last_activity": conversation.last_activity.isoformat(),
        "state": conversation.state,
        "outcome": conversation.outcome,
        "csat": conversation.csat,
        "assignee": info.assignee.get_username() if info and info.assignee else None,
        "tags": [t.name for t in info.tags.all()] if info else [],
        "messages": len(messages),
        "bot_replies": len(bot),
        "cost": sum(reply_cost(m.shared_engine_seconds, price) for m in bot),
        "currency": conversation.store.currency,
    }


def message_record(message, conversation) -> dict:
    author = getattr(message, "staff_author", None)
    is_bot = message.role == Message.Role.BOT
    return {
        "conversation": conversation.pk,
        "store": conversation.store.name,
        "message": message.pk,
        "created": message.created.isoformat(),
        "role": message.role,
        "author": author.user.get_username() if author and author.user else None,
        "text": message.text,
        "model": message.model or None,
        "prompt_tokens": message.prompt_tokens,
        "cached_prompt_tokens": message.cached_prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "time_to_first_token": message.time_to_first_token,
        "engine_seconds": message.engine_seconds,
        "shared_engine_seconds": message.shared_engine_seconds,
        "cost": reply_cost(message.shared_engine_seconds, conversation.store.hourly_price)
        if is_bot
        else None,
        "finish_reason": message.finish_reason or None,
    }


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class _Line:
    """A file-like sink for csv.writer that hands back each written row."""

    def write(self, value):
        return value


def _csv_rows(columns, records):
    writer = csv.writer(_Line())
    yield writer.writerow(columns)
    for record in records:
        yield writer.writerow([_cell(record[c]) for c in columns])


def conversations_csv(conversations):
    records = (conversation_record(c) for c in with_messages(conversations).iterator(CHUNK))
    return _csv_rows(CONVERSATION_COLUMNS, records)


def messages_csv(conversations):
    records = (
        message_record(m, c)
        for c in with_messages(conversations).iterator(CHUNK)
        for m in c.messages.all()
    )
    return _csv_rows(MESSAGE_COLUMNS, records)


def conversations_json(conversations):
    """A JSON array of conversations, each with its messages as a list; written one at a time."""
    yield "["
    for n, conversation in enumerate(with_messages(conversations).iterator(CHUNK)):
        record = conversation_record(conversation)
        record["messages"] = [message_record(m, conversation) for m in conversation.messages.all()]
        yield ("," if n else "") + json.dumps(record)
    yield "]"
