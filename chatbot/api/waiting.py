"""Waiting for the bot's reply to a message posted through the API, on the event loop.

The reply is produced by the normal path (the `generate_reply` task on a `gpu` worker), which
publishes typing/delta/done frames to the conversation's channel-layer group. We join that group
first, then queue the reply, then look in the database (it may already be stored), then follow the
frames until a `done` whose reply covers our message, or the timeout.
"""

import asyncio
import json
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from chatbot.conversations import services
from chatbot.conversations.models import Conversation, Message

from .serializers import MessageSerializer, ReplySerializer


def reply_to(conversation_id: int, message_id: int) -> Message | None:
    """The stored bot reply that covers shopper message `message_id`, if any: replies answer
    every pending message, so it is the first bot message after it once answered_through covers it."""
    answered = Conversation.objects.filter(
        pk=conversation_id, answered_through__gte=message_id
    ).exists()
    if not answered:
        return None
    return (
        Message.objects.filter(conversation_id=conversation_id, role=Message.Role.BOT)
        .filter(pk__gt=message_id)
        .order_by("pk")
        .first()
    )


def _status(conversation_id: int, message_id: int) -> tuple[dict | None, str]:
    """(the serialized reply if stored, the conversation's state); queues the reply if needed."""
    services.request_reply(conversation_id)
    reply = reply_to(conversation_id, message_id)
    state = Conversation.objects.values_list("state", flat=True).get(pk=conversation_id)
    return (ReplySerializer(reply).data if reply else None), state


async def events(conversation: Conversation, message_id: int, timeout: float) -> AsyncIterator:
    """(event, data) pairs: `typing`/`delta` frames, then one of `done` (data: the reply),
    `idle` (no bot reply will come: staff have the conversation), `error` or `timeout`.
    Deltas carry their `reply_id`: a reply that ends without covering our message is followed
    by the one that does."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(conversation.group_name, channel)
    try:
        reply, state = await sync_to_async(_status)(conversation.pk, message_id)
        if reply is not None:
            yield "done", reply
            return
        if state != Conversation.State.BOT:
            yield "idle", {"state": state}
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            try:
                event = await asyncio.wait_for(layer.receive(channel), max(left, 0))
            except TimeoutError:
                yield "timeout", {"timeout": timeout}
                return
            frame = event.get("frame") or {}
            kind = frame.get("type")
            if kind in ("typing", "delta"):
                yield kind, frame
            elif kind == "error":
                yield "error", {"code": frame.get("code"), "detail": frame.get("message")}
                return
            elif kind in ("done", "stopped"):
                reply, state = await sync_to_async(_status)(conversation.pk, message_id)
                if reply is not None:
                    yield "done", reply
                    return
                if state != Conversation.State.BOT:  # staff took over: no bot reply comes
                    yield "idle", {"state": state}
                    return
                # else an earlier reply ended; ours comes next
    finally:
        await layer.group_discard(conversation.group_name, channel)


async def server_sent_events(
    conversation: Conversation, message: Message, duplicate: bool, timeout: float
) -> AsyncIterator[str]:
    """The SSE body: `message` (the stored shopper message) then the events above."""
    first = {"message": MessageSerializer(message).data, "duplicate": duplicate}
    yield _sse("message", first)
    async for event, data in events(conversation, message.pk, timeout):
        yield _sse(event, data)


async def final_answer(
    conversation: Conversation, message: Message, duplicate: bool, timeout: float
) -> AsyncIterator[str]:
    """The `?wait=true` body: one JSON document once the reply is stored (or the wait ends)."""
    answer = {
        "message": MessageSerializer(message).data,
        "duplicate": duplicate,
        "reply": None,
        "state": Conversation.State.BOT.value,
        "timed_out": False,
    }
    async for event, data in events(conversation, message.pk, timeout):
        if event == "done":
            answer["reply"] = data
        elif event == "idle":
            answer["state"] = data["state"]
        elif event == "timeout":
            answer["timed_out"] = True
    yield json.dumps(answer)


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"
