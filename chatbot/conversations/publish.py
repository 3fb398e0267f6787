"""Send frames to a conversation's sockets from worker threads.

Channel layers are asyncio objects tied to one event loop: the embedded server's in-process layer
lives on the server's loop, and a Redis layer keeps its connections per loop. So every publish runs
on one long-lived loop: the server's when embedded (see `bind_loop`), else a private loop thread.
"""

import asyncio
import logging
import threading

from channels.layers import get_channel_layer
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def bind_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Publish on `loop` (the embedded server's), where its in-process channel layer lives.

    None goes back to a private loop, started on the next publish.
    """
    global _loop
    with _lock:
        _loop = loop


def _publish_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="publish-loop", daemon=True).start()
            _loop = loop
        return _loop


def send_frame(group: str, frame: dict, timeout: float = 10.0) -> bool:
    """Deliver `frame` to every socket in `group`; returns once the layer has it, so order holds.

    Frames are best effort: what counts is stored, and a socket that missed frames resyncs from
    the database when it reconnects. So when the channel layer is down, the frame is lost (False),
    not the reply.
    """
    event = {"type": "chat.frame", "frame": frame}
    try:
        try:
            _group_send(group, event, timeout)
        except (RedisError, ConnectionError):  # Redis restarted and closed our connection:
            _group_send(group, event, timeout)  # once more, on a new one
    except (RedisError, OSError) as error:
        log.warning("frame %s to %s not published: %r", frame.get("type"), group, error)
        return False
    return True


def _group_send(group: str, event: dict, timeout: float) -> None:
    layer = get_channel_layer()
    sent = asyncio.run_coroutine_threadsafe(layer.group_send(group, event), _publish_loop())
    try:
        sent.result(timeout)
    except TimeoutError:
        sent.cancel()
        raise
