"""Stores, staff of each role and logged-in browsers-without-a-browser (Django's test client),
all real rows in the test database. Also re-exports the running-product fixtures of tests/e2e
(live_stack, database_url) for the browser test."""

import importlib.util
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chatbot.dashboard.models import Membership
from chatbot.stores.models import Store

E2E = Path(__file__).resolve().parents[1] / "e2e"
sys.path.insert(0, str(E2E))  # its helper modules: processes, live_chat
_spec = importlib.util.spec_from_file_location("e2e_fixtures_for_dashboard", E2E / "conftest.py")
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
database_url = _e2e.database_url
live_stack = _e2e.live_stack

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


@pytest.fixture
def store_a(transactional_db):
    return make_store("store-a")


@pytest.fixture
def store_b(transactional_db):
    return make_store("store-b", price="7.2")


@pytest.fixture
def agent_a(store_a):
    return make_staff("agent-a", store_a, first_name="Alex")


@pytest.fixture
def admin_a(store_a):
    return make_staff("admin-a", store_a, role=Membership.Role.ADMIN)


@pytest.fixture
def agent_b(store_b):
    return make_staff("agent-b", store_b)


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client
