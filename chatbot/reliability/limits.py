"""How fast shoppers may send: a token bucket of frames per socket, so a tab or a script flooding
frames gets `rate_limited` errors while the server and every other shopper carry on; a budget of
messages per minute per client address and store, across all its sockets, since every message
costs a model reply (opening more sockets does not buy more replies); a budget of socket connects
per minute per address; and a daily budget of model replies per store, so a public widget key
cannot spend a store's GPU time without end.

An IPv6 client counts by its /64, the block one subscriber is given: rotating addresses inside it
buys nothing."""

import ipaddress
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


def client_key(address: str) -> str:
    """What limits count an address as: itself for IPv4, its /64 network for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, 64), strict=False))


async def _minute_wait(key: str, limit: int, now: float | None) -> float:
    """Count one event under `key` in fixed one-minute windows shared by every process through
    the cache: 0.0 if it is within `limit`, else the seconds until the next window."""
    now = clock() if now is None else now
    window = int(now // 60)
    key = f"{key}:{window}"
    await cache.aadd(key, 0, timeout=120)
    if await cache.aincr(key) <= limit:
        return 0.0
    return (window + 1) * 60 - now


async def message_wait(store_id: int, address: str | None, now: float | None = None) -> float:
    """Seconds until `address` may send another message to `store_id` (0.0: it may, and it is
    counted)."""
    limit = settings.CHAT_MESSAGES_PER_MINUTE_PER_ADDRESS
    if not limit or not address:
        return 0.0
    return await _minute_wait(f"chat-messages:{store_id}:{client_key(address)}", limit, now)


async def connect_wait(address: str | None, now: float | None = None) -> float:
    """Seconds until `address` may open another chat socket (0.0: it may, and it is counted)."""
    limit = settings.CHAT_CONNECTS_PER_MINUTE_PER_ADDRESS
    if not limit or not address:
        return 0.0
    return await _minute_wait(f"chat-connects:{client_key(address)}", limit, now)


async def reply_budget_spent(store_id: int, now: float | None = None) -> bool:
    """Count one model reply for `store_id` today (UTC): True when today's budget was already
    spent, and the reply must not be asked for."""
    budget = settings.CHAT_DAILY_REPLIES_PER_STORE
    if not budget:
        return False
    day = int((clock() if now is None else now) // 86400)
    key = f"chat-replies:{store_id}:{day}"
    await cache.aadd(key, 0, timeout=2 * 86400)
    return await cache.aincr(key) > budget
