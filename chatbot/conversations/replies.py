"""Producing bot replies: the worker side of a conversation.

One worker at a time holds a conversation's lease; it answers every unanswered shopper message in
one reply, streams it to the conversation's sockets, stores it with its usage, and loops while the
shopper kept writing.
"""

import logging
import time
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatbot.assistant import pipeline
from chatbot.engine import get_engine

from . import leases, outcomes, publish, services, stops
from .models import Conversation, Message

log = logging.getLogger(__name__)

USAGE_FIELDS = (
    "model",
    "prompt_tokens",
    "cached_prompt_tokens",
    "completion_tokens",
    "engine_seconds",
    "shared_engine_seconds",
    "time_to_first_token",
    "finish_reason",
)


def answer_pending(conversation_id: int) -> float | None:
    """Answer the conversation's unanswered messages.

    Returns None when nothing is left to do here, or the seconds after which to try again because
    another worker holds the lease (if that worker died, its lease will have lapsed by then).
    """
    token = uuid.uuid4()
    while True:
        if not leases.acquire(conversation_id, token):
            busy_for = leases.seconds_left(conversation_id)
            if busy_for is not None:
                return busy_for + 1
            if not Conversation.objects.filter(pk=conversation_id).exists():
                return None
            continue  # released between our two looks: try again
        try:
            while True:
                conversation = Conversation.objects.select_related("store").get(pk=conversation_id)
                pending = list(services.unanswered(conversation))
                if conversation.state != Conversation.State.BOT or not pending:
                    break
                if not _reply(conversation, pending, token):
                    return None  # our lease lapsed; its new holder answers
        finally:
            leases.release(conversation_id, token)
        # A message stored while we were releasing found the lease still held: it is ours to answer.
        if not services.needs_reply(conversation_id):
            return None


def _reply(conversation: Conversation, pending: list[Message], token: uuid.UUID) -> bool:
    """Stream and store one reply covering `pending`; False if the lease was lost meanwhile."""
    engine = get_engine()
    reply_id = str(uuid.uuid4())
    group = conversation.group_name
    publish.send_frame(group, {"type": "typing", "reply_id": reply_id})
    try:
        # The assistant decides: answer from the knowledge base or the order system, or hand over.
        stream = pipeline.start(conversation, pending, reply_id, engine)
        parts: list[str] = []
        renew_at = time.monotonic() + settings.REPLY_LEASE_SECONDS / 3
        # Staff taking over (or an escalation) aborts the request: the stream then just ends.
        with stops.watch(conversation.pk, engine, stream.request_id):
            for seq, delta in enumerate(stream):
                parts.append(delta)
                publish.send_frame(
                    group, {"type": "delta", "reply_id": reply_id, "seq": seq, "text": delta}
                )
                if time.monotonic() >= renew_at:
                    if not leases.renew(conversation.pk, token):
                        engine.abort(stream.request_id)
                        log.warning("conversation %s: lease lost mid-reply", conversation.pk)
                        return False
                    renew_at = time.monotonic() + settings.REPLY_LEASE_SECONDS / 3
        usage = stream.usage.as_dict()
        text = stream.text  # what was streamed, with any correction the checks made
        if usage["finish_reason"] == "abort" and not text:
            publish.send_frame(group, {"type": "stopped", "reply_id": reply_id})
            return True  # stopped before its first word: nothing to store
        with transaction.atomic():
            if not leases.renew(conversation.pk, token):
                return False
            message = Message.objects.create(
                conversation=conversation,
                role=Message.Role.BOT,
                text=text,
                reply_id=reply_id,
                **{field: usage[field] for field in USAGE_FIELDS},
            )
            stream.record(message)
            Conversation.objects.filter(pk=conversation.pk).update(
                answered_through=pending[-1].pk, last_activity=timezone.now()
            )
    except Exception:
        publish.send_frame(
            group,
            {"type": "error", "code": "reply_failed", "message": "The assistant could not reply."},
        )
        raise
    publish.send_frame(
        group,
        {
            "type": "done",
            "reply_id": reply_id,
            "message_id": message.pk,
            "text": text,
            "usage": usage,
        },
    )
    outcomes.after_bot_reply(conversation.pk, text, usage["finish_reason"])
    return True
