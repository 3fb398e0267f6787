"""/healthz: can this web process reach the database and the broker, and does a worker answer?
200 when all three do, else 503; each part says ok or failing (never why: the probe is public)."""

import logging

from django.conf import settings
from django.db import connection

from chatbot.celery import app

log = logging.getLogger(__name__)


def database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def broker() -> None:
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.HEALTHZ_TIMEOUT_SECONDS)


def worker() -> None:
    if not app.control.ping(timeout=settings.HEALTHZ_TIMEOUT_SECONDS, limit=1):
        raise RuntimeError("no worker answered a ping")


CHECKS = {"database": database, "broker": broker, "worker": worker}


def report() -> dict[str, str]:
    """Each check's outcome, "ok" or "failing" (the reason goes to the log)."""
    outcomes = {}
    for name, check in CHECKS.items():
        try:
            check()
            outcomes[name] = "ok"
        except Exception:
            log.warning("health check %s failed", name, exc_info=True)
            outcomes[name] = "failing"
    return outcomes
