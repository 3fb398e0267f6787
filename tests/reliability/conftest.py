"""Fixtures for fault and hostile-input tests. The running-product fixtures of tests/e2e (live_stack,
database_url, live_store) and the in-process socket client of tests/web are reused, not copied."""

import importlib.util
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS / "e2e"), str(TESTS / "web")]  # processes, live_chat, socket_client
_spec = importlib.util.spec_from_file_location(
    "e2e_fixtures_for_reliability", TESTS / "e2e/conftest.py"
)
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
database_url = _e2e.database_url
live_stack = _e2e.live_stack
live_store = _e2e.live_store
Stack = _e2e.Stack
child_env = _e2e.child_env

from socket_client import ORIGIN  # noqa: E402

from chatbot.stores.models import Store  # noqa: E402


@pytest.fixture
def store(transactional_db):
    return Store.objects.create(
        name="Test Shop", slug="test-shop", allowed_origins=[ORIGIN], system_prompt="Be brief."
    )


@pytest.fixture
def other_store(transactional_db):
    return Store.objects.create(name="Other Shop", slug="other-shop", allowed_origins=[ORIGIN])
