"""Resends to one subscriber go out paced, not in one burst (pure: no clock, no I/O).

A subscriber's NACK can name dozens of packets at once (a burst lost on home Wi-Fi, a link back from a
stall). Answered at once, they reach its bottleneck as one burst on top of the media: a shallow queue
there drops its tail (and the audio behind it), and the subscriber asks again. libwebrtc's pacer sends
everything at 2.5 times its target rate; here the media goes out as the publisher sends it, and only
the resends are ours to pace: at ``PACING_FACTOR`` times the packet rate this copy was sent at over the
last report window, ``RESEND_BURST`` at once at most. A queued packet waits its turn however long
it takes: not every receiver asks twice (aiortc's NACKs a gap once), so one dropped from the queue
could stay lost; what has grown too old to be worth it is refused as it goes out (staleness, below).

Before a window is measured there is no rate to pace at, and resends go out at once. Each resend
still passes the sender's own rules as it goes out (once per round trip, the budget, staleness:
``seam.resend``); one refused costs no token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

PACING_FACTOR = 2.5  # resends go out at most this many times the rate the copy's media was sent at
RESEND_BURST = 4  # resends that may go out back to back (the bucket's depth)
MIN_RATE = 50.0  # packets/s resends may always go out at (a copy that sent little: a paused video)
MIN_WINDOW = 0.2  # seconds: a shorter span between two measurements gives no rate
MAX_QUEUED = 512  # packets waiting at most: as many as a sender's history holds


@dataclass
class ResendPacer:
    """One sender copy's resend queue and token bucket (tokens are packets)."""

    rate: float | None = None  # packets/s; None: not measured yet, no pacing
    tokens: float = RESEND_BURST
    refilled: float | None = None
    queue: dict[int, None] = field(default_factory=dict)  # the sequence numbers waiting, in the order asked
    window: tuple[int, float] | None = None  # (packets sent, when) at the last measurement

    def measure(self, packets_sent: int, now: float) -> None:
        """The copy had sent ``packets_sent`` packets in all by ``now`` (once per report window)."""
        if self.window is not None:
            count, at = self.window
            if now - at < MIN_WINDOW:
                return
            self.rate = max(MIN_RATE, PACING_FACTOR * max(0, packets_sent - count) / (now - at))
        self.window = (packets_sent, now)

    def ask(self, lost: Iterable[int]) -> None:
        """The subscriber NACKed ``lost``: each waits its turn (one asked again keeps its place)."""
        queue = self.queue
        for seq in lost:
            if seq not in queue and len(queue) < MAX_QUEUED:
                queue[seq] = None

    def take(self, now: float) -> list[int]:
        """What may go out now, in the order asked. Tokens are spent by ``spend`` for what was
        really resent."""
        if self.rate is None:
            due = list(self.queue)
            self.queue.clear()
            return due
        if self.refilled is not None:
            earned = max(0.0, now - self.refilled) * self.rate  # a clock read before the last one earns nothing
            self.tokens = min(float(RESEND_BURST), self.tokens + earned)
        self.refilled = now if self.refilled is None else max(now, self.refilled)
        due = list(self.queue)[: int(self.tokens)]
        for seq in due:
            del self.queue[seq]
        return due

    def spend(self, resent: int) -> None:
        """``resent`` of what ``take`` gave went out."""
        if self.rate is not None:
            self.tokens -= resent

    def due(self) -> float | None:
        """Seconds until the next queued resend may go out (None: nothing waits, or no pacing)."""
        if not self.queue or self.rate is None:
            return None
        return max(0.0, (1.0 - self.tokens) / self.rate)
