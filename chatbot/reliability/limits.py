"""How fast one chat socket may send: a token bucket per connection, so a tab or a script flooding
frames gets `rate_limited` errors while the server and every other shopper carry on."""

import time

from django.conf import settings


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
