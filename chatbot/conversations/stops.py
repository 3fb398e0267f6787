"""Stopping a bot reply mid-stream when the bot must fall silent (staff took the conversation over,
or the shopper asked for a person).

The decision travels through the database: the conversation leaves state `bot`. Each worker process
runs one watcher thread that, while the process has replies in flight, reads every POLL_SECONDS
which of their conversations left `bot` and aborts those engine requests. That is one query per
process per poll whatever the number of replies, it works the same embedded and in production, it
also stops a reply still waiting for its first token, and no stop can be lost in transit.
"""

import contextlib
import logging
import threading

from django.db import connection

from .models import Conversation

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1

_lock = threading.Lock()
_wake = threading.Event()
_in_flight: dict[int, tuple[object, str]] = {}  # conversation id -> (engine, request id)
_watcher: threading.Thread | None = None


@contextlib.contextmanager
def watch(conversation_id: int, engine, request_id: str):
    """Abort `request_id` on `engine` if the conversation leaves state `bot` meanwhile."""
    global _watcher
    with _lock:
        _in_flight[conversation_id] = (engine, request_id)
        if _watcher is None or not _watcher.is_alive():
            _watcher = threading.Thread(target=_watch_loop, name="reply-stops", daemon=True)
            _watcher.start()
    _wake.set()
    try:
        yield
    finally:
        with _lock:
            if _in_flight.get(conversation_id, (None, None))[1] == request_id:
                del _in_flight[conversation_id]


def _watch_loop() -> None:
    while True:
        with _lock:
            watched = dict(_in_flight)
        if not watched:
            connection.close()  # hold no connection while idle
            _wake.wait()
            _wake.clear()
            continue
        try:
            silenced = Conversation.objects.filter(pk__in=list(watched)).exclude(
                state=Conversation.State.BOT
            )
            for conversation_id in silenced.values_list("pk", flat=True):
                engine, request_id = watched[conversation_id]
                engine.abort(request_id)
                log.info("conversation %s: reply %s stopped", conversation_id, request_id)
        except Exception:
            log.exception("reply stop watcher")
            connection.close()
        _wake.wait(POLL_SECONDS)
        _wake.clear()
