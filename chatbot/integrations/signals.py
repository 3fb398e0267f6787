"""Webhook events from conversation changes, without touching the conversation code paths.

`post_save` covers creations and `.save()` transitions. Code that changes a conversation's state or
CSAT with `QuerySet.update()` bypasses signals and calls `events.emit` itself.
"""

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from chatbot.conversations.models import Conversation, Message

from . import events, payloads

STATE_EVENTS = {
    Conversation.State.ESCALATED: "conversation.escalated",
    Conversation.State.RESOLVED: "conversation.resolved",
}


@receiver(pre_save, sender=Conversation)
def remember_previous(sender, instance, raw=False, **kwargs):
    if raw or instance.pk is None:
        instance._webhook_before = None
        return
    instance._webhook_before = (
        Conversation.objects.filter(pk=instance.pk).values("state", "csat").first()
    )


@receiver(post_save, sender=Conversation)
def conversation_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    data = payloads.conversation(instance)
    if created:
        events.emit(instance.store_id, "conversation.created", data)
        return
    before = getattr(instance, "_webhook_before", None) or {}
    if instance.state != before.get("state") and instance.state in STATE_EVENTS:
        events.emit(instance.store_id, STATE_EVENTS[instance.state], data)
    if instance.csat is not None and instance.csat != before.get("csat"):
        events.emit(instance.store_id, "csat.submitted", data)


@receiver(post_save, sender=Message)
def message_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        store_id = instance.conversation.store_id
        events.emit(store_id, "message.created", payloads.message(instance))
