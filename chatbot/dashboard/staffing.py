"""Staff work on a conversation: writing to the shopper, assigning it to a colleague, tagging it."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from chatbot.conversations import outcomes, protocol, publish
from chatbot.conversations.models import Conversation, ConversationInfo, Message, Tag

from . import access, live
from .models import StaffAuthor

MAX_TAGS = 20


def clean_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError("The message is empty.")
    if len(text) > protocol.MAX_TEXT_CHARS:
        raise ValidationError(f"Messages are limited to {protocol.MAX_TEXT_CHARS} characters.")
    return text


def send_staff_message(conversation: Conversation, user, text: str) -> Message:
    """Store a staff message and deliver it to the shopper's widget at once.

    Writing takes the conversation over first, so the bot never talks over a person.
    """
    text = clean_text(text)
    if conversation.state != Conversation.State.HUMAN:
        outcomes.take_over(conversation, user)
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation, role=Message.Role.STAFF, text=text
        )
        StaffAuthor.objects.create(message=message, user=user)
        latest = conversation.messages.filter(role=Message.Role.SHOPPER).aggregate(m=Max("pk"))
        ours = Conversation.objects.filter(pk=conversation.pk)
        ours.update(last_activity=timezone.now())
        ours.filter(answered_through__lt=latest["m"] or 0).update(answered_through=latest["m"])
    publish.send_frame(conversation.group_name, {"type": "message", "message": message.as_frame()})
    return message


def info_for(conversation: Conversation) -> ConversationInfo:
    return ConversationInfo.objects.get_or_create(conversation=conversation)[0]


def assign(conversation: Conversation, assignee_id: int | None) -> None:
    """Assign to a member of the conversation's store, or to nobody (None)."""
    assignee = None
    if assignee_id is not None:
        assignee = access.colleagues(conversation.store).filter(pk=assignee_id).first()
        if assignee is None:
            raise ValidationError("That person does not work for this store.")
    info = info_for(conversation)
    info.assignee = assignee
    info.save(update_fields=["assignee"])
    live.conversation_changed(conversation.pk)


def parse_tags(raw: str) -> list[str]:
    names = []
    for part in (raw or "").split(","):
        name = " ".join(part.split())[: Tag._meta.get_field("name").max_length]
        if name and name.lower() not in {n.lower() for n in names}:
            names.append(name)
    if len(names) > MAX_TAGS:
        raise ValidationError(f"At most {MAX_TAGS} tags.")
    return names


def set_tags(conversation: Conversation, names: list[str]) -> list[Tag]:
    """Tag the conversation with exactly `names` (tags of its store, created when new)."""
    tags = []
    for name in names:
        tag = Tag.objects.filter(store=conversation.store, name__iexact=name).first()
        tags.append(tag or Tag.objects.create(store=conversation.store, name=name))
    info_for(conversation).tags.set(tags)
    live.conversation_changed(conversation.pk)
    return tags
