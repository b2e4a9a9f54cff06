"""Per-connection rate limits: a token bucket per socket, with the clock passed in.

Generous for a person (a facilitator clicking fast stays well inside it), tight for a script that
floods: every refused event is answered ``rate_limited`` and the connection stays up.
"""

from __future__ import annotations

from dataclasses import dataclass

EVENT_RATE = 20.0  # client events a second per connection, sustained
EVENT_BURST = 40.0  # client events per connection in a burst


@dataclass
class Bucket:
    rate: float
    burst: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class RateLimiter:
    def __init__(self, rate: float = EVENT_RATE, burst: float = EVENT_BURST) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, Bucket] = {}

    def allow(self, key: str, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(self.rate, self.burst, self.burst, now)
        return bucket.take(now)

    def exhausted(self, key: str, now: float) -> bool:
        """Whether ``key`` has no token left right now (nothing is taken)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return False
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        return bucket.tokens < 1.0

    def forget(self, key: str) -> None:
        self._buckets.pop(key, None)

    def forget_full(self, now: float) -> None:
        """Drop every bucket that has refilled: it would start full anyway (bounds memory by activity)."""
        for key in [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]:
            del self._buckets[key]

    @property
    def tracked(self) -> int:
        """How many keys have a bucket now."""
        return len(self._buckets)
