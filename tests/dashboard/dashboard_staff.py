"""Stores and staff as real rows, and Django test clients logged in as them."""

from django.contrib.auth import get_user_model
from django.test import Client

from chatbot.dashboard.models import Membership
from chatbot.stores.models import Store

ORIGIN = "https://shop.example"
PASSWORD = "a-long-test-password-9"


def make_store(slug: str, price: str = "3.6") -> Store:
    return Store.objects.create(
        name=slug.replace("-", " ").title(),
        slug=slug,
        allowed_origins=[ORIGIN],
        hourly_price=price,
    )


def make_staff(username: str, store: Store | None, role=Membership.Role.AGENT, **extra):
    user = get_user_model().objects.create_user(username, password=PASSWORD, **extra)
    if store is not None:
        Membership.objects.create(user=user, store=store, role=role)
    return user


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client
