"""The product running for real in child processes: live_stack, live_store and database_url are
shared fixtures (tests/conftest.py, tests/live_stack.py); here, the embedded server on its own."""

import pytest
from live_stack import start_stack


@pytest.fixture(scope="module")
def embedded_server(request, database_url, test_redis, tmp_path_factory):
    """`manage.py serve` (what `make run` starts): the live stack itself when Redis is absent."""
    if not test_redis:
        yield request.getfixturevalue("live_stack")
        return
    stack = start_stack(database_url, "", tmp_path_factory.mktemp("embedded"))
    yield stack
    stack.stop()
