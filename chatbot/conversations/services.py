"""Conversation rules the socket and the worker share: which widget may open a conversation, storing
a shopper's message exactly once, and when a reply has to be queued."""

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from chatbot.assistant import safety
from chatbot.stores.models import Store

from . import leases, outcomes
from .models import Conversation, Message

SHOPPER_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def store_for_widget(widget_key: str, origin: str) -> Store | None:
    """The store a widget key belongs to, if the page's Origin is one the store allows."""
    store = Store.objects.filter(widget_key=widget_key).first() if widget_key else None
    if store is None or not store.allows_origin(origin):
        return None
    return store


def find_conversation(
    store: Store, shopper_id: str, conversation_id: int | None, verified_identity: str = ""
) -> Conversation | None:
    """The shopper's requested conversation, else their latest open one, else None.

    A conversation id only counts if it is this shopper's in this store: ids are sequential. It
    must also have the same verified identity (none for anonymous): whoever uses the browser
    next never resumes a signed-in customer's conversation.
    """
    own = Conversation.objects.filter(
        store=store, shopper_id=shopper_id, verified_identity=verified_identity
    )
    if conversation_id is not None:
        found = own.filter(pk=conversation_id).first()
        if found is not None:
            return found
    open_states = [Conversation.State.BOT, Conversation.State.HUMAN, Conversation.State.ESCALATED]
    return own.filter(state__in=open_states).order_by("-last_activity").first()


def open_conversation(
    store: Store, shopper_id: str, conversation_id: int | None, verified_identity: str = ""
) -> Conversation:
    """`find_conversation`, else a new one. The widget calls it on a shopper's first message, not
    on connect: opening sockets creates no conversations (nor their webhooks)."""
    found = find_conversation(store, shopper_id, conversation_id, verified_identity)
    return found or Conversation.objects.create(
        store=store, shopper_id=shopper_id, verified_identity=verified_identity
    )


def start_conversation(
    store: Store, shopper_id: str, verified_identity: str, client_msg_id: str, text: str
) -> tuple[Conversation, Message, bool]:
    """A shopper's first message: `open_conversation` and `store_shopper_message` in one
    transaction, so a message the database refuses leaves no conversation behind (and no webhook).
    Returns (conversation, message, created); the caller runs `after_shopper_message` when it has
    joined the conversation's group, so a note the hook publishes reaches the shopper."""
    with transaction.atomic():
        conversation = open_conversation(store, shopper_id, None, verified_identity)
        message, created = store_shopper_message(conversation, client_msg_id, text)
    return conversation, message, created


def receive_shopper_message(
    conversation: Conversation, client_msg_id: str, text: str
) -> tuple[Message, bool]:
    """Store the message once per client id; returns (message, created). A resend gets the original."""
    message, created = store_shopper_message(conversation, client_msg_id, text)
    if created:
        after_shopper_message(conversation, text)
    return message, created


def after_shopper_message(conversation: Conversation, text: str) -> None:
    # Before a reply is queued: a shopper asking for a person is not answered by the bot.
    outcomes.after_shopper_message(conversation.pk, text)


def store_shopper_message(
    conversation: Conversation, client_msg_id: str, text: str
) -> tuple[Message, bool]:
    """`receive_shopper_message` without its hook: (message, created)."""
    with transaction.atomic():
        existing = conversation.messages.filter(client_msg_id=client_msg_id).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    conversation=conversation,
                    role=Message.Role.SHOPPER,
                    text=safety.stored_text(conversation.store_id, text),  # redaction opt-in
                    client_msg_id=client_msg_id,
                )
        except IntegrityError:  # the same id raced in from a second socket
            return conversation.messages.get(client_msg_id=client_msg_id), False
        ours = Conversation.objects.filter(pk=conversation.pk)
        ours.update(last_activity=timezone.now())
        # Writing again reopens a finished conversation for the bot.
        ours.filter(state__in=[Conversation.State.RESOLVED, Conversation.State.ABANDONED]).update(
            state=Conversation.State.BOT
        )
    return message, True


def unanswered(conversation: Conversation):
    """Shopper messages no reply has covered yet, oldest first."""
    return conversation.messages.filter(
        role=Message.Role.SHOPPER, pk__gt=conversation.answered_through
    ).order_by("pk")


def needs_reply(conversation_id: int) -> bool:
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    return (
        conversation is not None
        and conversation.state == Conversation.State.BOT
        and unanswered(conversation).exists()
    )


def request_reply(conversation_id: int) -> bool:
    """Queue a reply task unless one is unneeded or a live worker is already replying.

    A holder re-checks for new messages after releasing its lease, so a message stored before the
    release is answered by the holder and one stored after it finds the lease free here.
    """
    if not needs_reply(conversation_id) or leases.seconds_left(conversation_id) is not None:
        return False
    from .tasks import generate_reply

    generate_reply.delay(conversation_id)
    return True


def messages_after(conversation: Conversation, last_message_id: int, limit: int = 500):
    """What a reconnecting client missed, oldest first."""
    return list(conversation.messages.filter(pk__gt=last_message_id).order_by("pk")[:limit])
