"""How fast shoppers may send: a token bucket of frames per socket, so a tab or a script flooding
frames gets `rate_limited` errors while the server and every other shopper carry on; and a budget
of messages per minute per client address and store, across all its sockets, since every message
costs a model reply (opening more sockets does not buy more replies)."""

import time

from django.conf import settings
from django.core.cache import cache


class FrameBudget:
    """`burst` frames at once, then `per_second` on average."""

    def __init__(self, burst: int | None = None, per_second: float | None = None, clock=None):
        self.burst = burst if burst is not None else settings.CHAT_FRAME_BURST
        self.per_second = per_second if per_second is not None else settings.CHAT_FRAMES_PER_SECOND
        self._clock = clock or time.monotonic
        self._tokens = float(self.burst)
        self._at = self._clock()

    def take(self) -> float:
        """Spend one frame: 0.0 when it may pass, else the seconds until one will (nothing spent)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.per_second


clock = time.time  # wall time: the windows are shared by every process


async def message_wait(store_id: int, address: str | None, now: float | None = None) -> float:
    """Seconds until `address` may send another message to `store_id` (0.0: it may, and it is
    counted), in fixed one-minute windows shared by every process through the cache."""
    limit = settings.CHAT_MESSAGES_PER_MINUTE_PER_ADDRESS
    if not limit or not address:
        return 0.0
    now = clock() if now is None else now
    window = int(now // 60)
    key = f"chat-messages:{store_id}:{address}:{window}"
    await cache.aadd(key, 0, timeout=120)
    if await cache.aincr(key) <= limit:
        return 0.0
    return (window + 1) * 60 - now
