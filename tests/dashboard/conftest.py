"""Stores, staff of each role and logged-in browsers-without-a-browser (Django's test client),
all real rows in the test database. The browser test's running product (live_stack) and Chromium
(browser) are shared fixtures of tests/conftest.py."""

import pytest
from dashboard_staff import make_staff, make_store

from chatbot.dashboard.models import Membership


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
