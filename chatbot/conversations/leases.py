"""The per-conversation reply lease: one worker replies at a time, and a dead worker's lease lapses.

Every step is one conditional UPDATE, so two workers can never both believe they hold it.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import Conversation


def _expiry():
    return timezone.now() + timedelta(seconds=settings.REPLY_LEASE_SECONDS)


def acquire(conversation_id: int, token: uuid.UUID) -> bool:
    """Take the lease if it is free or lapsed."""
    free = Q(reply_lease_token__isnull=True) | Q(reply_lease_expires__lt=timezone.now())
    taken = Conversation.objects.filter(free, pk=conversation_id).update(
        reply_lease_token=token, reply_lease_expires=_expiry()
    )
    return taken == 1


def renew(conversation_id: int, token: uuid.UUID) -> bool:
    """Extend our lease; False if it lapsed and someone else took it."""
    return (
        Conversation.objects.filter(pk=conversation_id, reply_lease_token=token).update(
            reply_lease_expires=_expiry()
        )
        == 1
    )


def release(conversation_id: int, token: uuid.UUID) -> None:
    Conversation.objects.filter(pk=conversation_id, reply_lease_token=token).update(
        reply_lease_token=None, reply_lease_expires=None
    )


def seconds_left(conversation_id: int) -> float | None:
    """Seconds until the current lease lapses, or None when nobody holds a live one."""
    expires = (
        Conversation.objects.filter(pk=conversation_id, reply_lease_token__isnull=False)
        .values_list("reply_lease_expires", flat=True)
        .first()
    )
    if expires is None:
        return None
    left = (expires - timezone.now()).total_seconds()
    return left if left > 0 else None
