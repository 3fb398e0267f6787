"""Stores, staff of each role and logged-in browsers-without-a-browser (Django's test client),
all real rows in the test database. Also re-exports the running-product fixtures of tests/e2e
(live_stack, database_url) for the browser test."""

import importlib.util
import sys
from pathlib import Path

import pytest
from dashboard_staff import make_staff, make_store

from chatbot.dashboard.models import Membership

E2E = Path(__file__).resolve().parents[1] / "e2e"
sys.path.insert(0, str(E2E))  # its helper modules: processes, live_chat
_spec = importlib.util.spec_from_file_location("e2e_fixtures_for_dashboard", E2E / "conftest.py")
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
database_url = _e2e.database_url
live_stack = _e2e.live_stack


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
