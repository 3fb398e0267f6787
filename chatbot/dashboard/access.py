"""Tenant isolation for staff: a user sees only the stores they are a member of (superusers, who run
the installation, see all). Anything of another store is answered 404, so ids reveal nothing."""

from django.contrib.auth import get_user_model
from django.http import Http404

from chatbot.conversations.models import Conversation
from chatbot.stores.models import Store

from .models import Membership


def stores_for(user):
    """The stores `user` works for."""
    if not user.is_authenticated or not user.is_active:
        return Store.objects.none()
    if user.is_superuser:
        return Store.objects.all()
    return Store.objects.filter(memberships__user=user)


def store_ids_for(user) -> list[int]:
    return list(stores_for(user).values_list("pk", flat=True))


def is_admin(user, store) -> bool:
    """Admins may change the store's settings; agents only answer its conversations."""
    if user.is_superuser:
        return True
    return Membership.objects.filter(user=user, store=store, role=Membership.Role.ADMIN).exists()


def conversations_for(user):
    return Conversation.objects.filter(store__in=stores_for(user))


def conversation_for(user, pk) -> Conversation:
    conversation = conversations_for(user).select_related("store").filter(pk=pk).first()
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def store_for(user, pk) -> Store:
    store = stores_for(user).filter(pk=pk).first()
    if store is None:
        raise Http404("No such store.")
    return store


def colleagues(store):
    """Who a conversation of `store` can be assigned to."""
    return (
        get_user_model()
        .objects.filter(is_active=True, store_memberships__store=store)
        .order_by("username")
    )


def colleagues_of(user):
    """Everyone who works for one of `user`'s stores (for the assignee filter)."""
    return (
        get_user_model()
        .objects.filter(is_active=True, store_memberships__store__in=stores_for(user))
        .distinct()
        .order_by("username")
    )
