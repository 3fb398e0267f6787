"""The live inbox: every change to a conversation is pushed to its store's staff sockets.

Each stored message (shopper, bot, staff or system, from a web process or a worker) triggers a
push once its transaction commits; state changes made by staff push explicitly, and those made by
the conversation rules arrive through ``chatbot.conversations.signals``. What is pushed is the
conversation's whole summary, so a missed push is repaired by the next one and the page never has
to merge partial updates.
"""

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.signals import post_save

from chatbot.conversations import publish, signals
from chatbot.conversations.models import Conversation, Message

PREVIEW_CHARS = 140


def store_group(store_id: int) -> str:
    """Channel-layer group of every staff socket of a store."""
    return f"staff.store.{store_id}"


def with_summary(conversations):
    """Annotate a conversation queryset with what `summary` reads, in one query."""
    shown = Message.objects.filter(conversation=OuterRef("pk")).exclude(role=Message.Role.SYSTEM)
    last = shown.order_by("-pk")
    return (
        conversations.select_related("store", "staff_info__assignee")
        .prefetch_related("staff_info__tags")
        .annotate(
            last_role=Subquery(last.values("role")[:1]),
            last_text=Subquery(last.values("text")[:1]),
            last_created=Subquery(last.values("created")[:1]),
            # The bot is replying (or about to): shopper messages no reply has covered yet.
            awaiting_bot=Exists(
                Message.objects.filter(
                    conversation=OuterRef("pk"),
                    role=Message.Role.SHOPPER,
                    pk__gt=OuterRef("answered_through"),
                )
            ),
        )
    )


def summary(conversation) -> dict:
    """What the inbox shows of a conversation (and filters on); needs `with_summary`."""
    info = getattr(conversation, "staff_info", None)
    assignee = info.assignee if info else None
    return {
        "id": conversation.pk,
        "store": {"id": conversation.store_id, "name": conversation.store.name},
        "shopper": conversation.shopper_id[:8],
        "state": conversation.state,
        "state_label": conversation.get_state_display(),
        "outcome": conversation.outcome,
        "csat": conversation.csat,
        "replying": conversation.awaiting_bot and conversation.state == Conversation.State.BOT,
        "assignee": {"id": assignee.pk, "name": assignee.get_username()} if assignee else None,
        "tags": [{"id": t.pk, "name": t.name} for t in info.tags.all()] if info else [],
        "last_message": {
            "role": conversation.last_role,
            "text": conversation.last_text[:PREVIEW_CHARS],
            "created": conversation.last_created.isoformat(),
        }
        if conversation.last_role
        else None,
        "last_activity": conversation.last_activity.isoformat(),
    }


def conversation_changed(conversation_id: int) -> None:
    """Push the conversation's current summary to its store's staff."""
    conversation = with_summary(Conversation.objects.filter(pk=conversation_id)).first()
    if conversation is None or not conversation.messages.filter(role=Message.Role.SHOPPER).exists():
        return  # an opened widget nobody wrote in is not in the inbox
    publish.send_frame(
        store_group(conversation.store_id),
        {"type": "conversation", "conversation": summary(conversation)},
    )


def _message_saved(sender, instance: Message, created: bool, **kwargs):
    if created:
        transaction.on_commit(lambda: conversation_changed(instance.conversation_id), robust=True)


def _conversation_changed(sender, conversation_id: int, **kwargs):
    conversation_changed(conversation_id)


def connect_signals() -> None:
    post_save.connect(_message_saved, sender=Message, dispatch_uid="dashboard-inbox")
    signals.changed.connect(_conversation_changed, dispatch_uid="dashboard-inbox-changes")
