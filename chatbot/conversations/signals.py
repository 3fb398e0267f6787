"""What the domain tells the surfaces: a conversation's state, outcome or rating changed, so what
shows it (the staff inbox) refreshes. Stored messages need no signal of their own: their
``post_save`` is one."""

from django.dispatch import Signal

changed = Signal()  # keyword argument: conversation_id


def conversation_changed(conversation_id: int) -> None:
    changed.send(sender=None, conversation_id=conversation_id)
