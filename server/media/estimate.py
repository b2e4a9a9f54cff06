"""What one subscriber's link can carry, read from its RTCP: pure figures, no I/O, no clock (``now`` is the caller's).

An ``Estimate`` is the evidence the engine gathers for one subscriber each round (its REMB, its
receiver reports' loss, the round trip, what got through) and the figure ``allocator.allocate``
spends: ``rate_at``, whether the link is ``congested``, and what it has ``proven`` it carries.

Only congestion pauses what flows: a REMB that falls (past a new link's first seconds), not a low
one (a browser's REMB starts low and trails what it receives) and not loss alone (random loss on a
home Wi-Fi is no reason to take anyone's picture away; GCC's loss rule tried here first collapsed the
estimate of a link whose video was paused, as what it is sent is then tiny). But a queue that
overflows round after round is congestion whatever the REMB says: ``SEVERE_LOSS`` of all its video
packets in ``SEVERE_ROUNDS`` rounds in a row, with the round trip grown by ``QUEUE_DELAY``, makes the
estimate what got through (a full queue drains at the link's rate) for ``CONGESTION_HOLD``. In the
lab a member capped at 400 kbit/s lost 20-83 % of its video for 20 s while its starved browser's
REMB sat at 68-95 kbit/s without falling, so nothing was paused and both videos froze for a third
of the minute.

``tests/media/test_estimate.py`` holds the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

_T = TypeVar("_T")

DEFAULT_ESTIMATE = 2_500_000  # bit/s assumed before a subscriber reports anything (no REMB yet)
# A round with this much lost, and a falling REMB: congestion (a full queue drops). Read from ``overall``
# (all our video packets) when the sample is large enough: one stream's fraction over a dozen packets
# reads 6-8% for a single loss, and at 2% random loss with a starved browser's REMB dipping, that paused
# a member's videos in the lab.
CONGESTION_LOSS = 0.05
# Congestion is what pauses video, not a low figure: a browser's REMB starts low and grows by some 8% a
# second up to 1.5x what it receives, so on a clean link it trails for many seconds. A REMB that falls
# (the browser's delay-based detector saw its queue grow) or high loss is congestion, for this long:
CONGESTION_HOLD = 5.0
# This share of a round's video packets lost on the subscriber's own link, ``SEVERE_ROUNDS`` rounds in a
# row, is a queue overflowing: the capped member lost 0.2-0.8 a round for 20 s. Read from one stream's
# fraction (a dozen packets a round), 0.2 in two rounds took 10% random loss for an overflow (19 pause
# changes in a 40 s lab cell, members audio only in turn), so the figure is over all videos' packets
# (``bandwidth.MIN_LOSS_SAMPLE``), higher, longer.
SEVERE_LOSS = 0.25
SEVERE_ROUNDS = 3
# And only while a queue stands in the path: the round trip this much above the least of the last
# ``RTT_WINDOW`` seconds (a drop-tail queue that overflows is full, so its delay is at its most). Random
# loss leaves the round trip where it was: in the lab at 10% random loss, receiver reports read 30-70%
# lost in some rounds (the reports' own counting) and overflow was read where there was none.
QUEUE_DELAY = 0.2
RTT_WINDOW = 30.0
# Round after round: a starved browser's round trip (its own late reading of our reports) swung between
# 0.01 and 1.0 s in alternate seconds in the lab, and one high second read as a queue handed the estimate
# to its 19 kbit/s REMB and paused its member's videos. A queue that overflows stands for seconds.
QUEUE_ROUNDS = 2
# What a link carried (what got through) with no queue in its path (``Estimate.queued``) within
# ``CARRIED_WINDOW``, less GCC's decrease (``DELAY_BACKOFF``), keeps the floor holder's video however
# low the REMB: a browser starved of CPU reported 12-70 kbit/s on a link carrying 130-190 kbit/s with no
# queue, and its member went audio only. Random loss is no sign the link cannot carry it (at 10% a round
# never reads under 5%).
CARRIED_WINDOW = 10.0
DELAY_BACKOFF = 0.85
RECOVERY_GROWTH = 1.08  # a second, after an overflow: GCC's multiplicative increase
DRAIN_MARGIN = 0.9  # an overflowing link is then given this share of what got through, so its queue drains
REMB_FALL = 0.95  # a REMB below this share of the one before is a fall (read in ``seam.SubscriberRtcp``)
STARTUP_GRACE = 10.0  # seconds of a new link in which only high loss counts (its first REMBs settle)
# A subscriber whose RTCP stops this long was cut off (a phone in a tunnel, Wi-Fi gone for seconds). Its
# first reports after it describe the outage, not its link now: their loss is what was lost while it was
# away and its browser's estimate restarts low. For ``OUTAGE_GRACE`` after they resume neither counts as
# congestion (as on a new link), else every video to it would be paused for a probe's wait after each drop.
OUTAGE_SILENCE = 2.0
OUTAGE_GRACE = 5.0


def _window(samples: list[tuple[float, _T]], now: float, seconds: float, value: _T) -> list[tuple[float, _T]]:
    """``samples`` (when, value) within ``seconds`` of ``now``, and ``value`` at ``now`` after them."""
    return [(at, old) for at, old in samples if now - at < seconds] + [(now, value)]


@dataclass
class Estimate:
    """One subscriber's receive rate figure, from its RTCP: ``remb`` (the browser's own receive-side
    estimate, bit/s), whether it fell lately (congestion), and its receiver reports' fraction lost."""

    remb: int | None = None
    loss: float = 0.0  # the latest fraction lost (0..1), the worst over the connection's video streams
    born: float | None = None  # when the first figure came (``now`` of the caller's clock)
    congested_at: float | None = None  # the last fall of the REMB (past the startup grace)
    lossy_at: float | None = None  # the last receiver report with ``CONGESTION_LOSS`` or more lost
    heard_at: float | None = None  # when the subscriber's RTCP was last read, as of the last round
    resumed_at: float | None = None  # when its RTCP came back after ``OUTAGE_SILENCE`` of none
    severe_rounds: int = 0  # report rounds in a row with ``SEVERE_LOSS`` or more lost
    overflow_rate: int | None = None  # bit/s: what got through at the last overflowing round, less ``DRAIN_MARGIN``
    overflowed_at: float | None = None  # the last round that made ``overflow_rate`` the estimate
    carried: list[tuple[float, int]] = field(default_factory=list)  # (when, bit/s) delivered with no queue
    round_trips: list[tuple[float, float]] = field(default_factory=list)  # (when, seconds) a round each

    def on_heard(self, at: float | None, now: float) -> None:
        """The time the subscriber's latest RTCP was read (``seam.SubscriberRtcp.heard_at``), each
        round before its figures: reports that resume after ``OUTAGE_SILENCE`` end an outage, and
        what the link showed before and right after it is forgotten (``OUTAGE_GRACE``)."""
        if at is None:
            return
        if self.heard_at is not None and at - self.heard_at >= OUTAGE_SILENCE:
            self.resumed_at = now
            self.congested_at = self.lossy_at = None
        self.heard_at = at

    def _after_outage(self, now: float) -> bool:
        """Within ``OUTAGE_GRACE`` of reports resuming after an outage."""
        return self.resumed_at is not None and now - self.resumed_at < OUTAGE_GRACE

    def _settling(self, now: float) -> bool:
        """Within a new link's startup grace, or an outage's."""
        return self.born is None or now - self.born < STARTUP_GRACE or self._after_outage(now)

    def congested(self, now: float) -> bool:
        """Whether the link's REMB fell and its reports showed loss, both within ``CONGESTION_HOLD``
        (a new link's first ``STARTUP_GRACE`` seconds of REMB do not count). A queue that overflows
        does both; a browser starved of CPU lowers its REMB with no loss (seen in the lab at a load
        of 16 on 2 cores: REMBs of 12-70 kbit/s on a clean link), and random loss on Wi-Fi leaves
        its delay-based REMB where it was."""
        recent = [t for t in (self.congested_at, self.lossy_at) if t is not None and now - t < CONGESTION_HOLD]
        return len(recent) == 2 or self.overflowing(now)

    def overflowing(self, now: float) -> bool:
        """Whether the link's queue overflowed (``SEVERE_LOSS`` round after round) within ``CONGESTION_HOLD``."""
        return self.overflowed_at is not None and now - self.overflowed_at < CONGESTION_HOLD

    def on_rtt(self, rtt: float | None, now: float) -> None:
        """The link's smoothed round trip this round (``seam.SubscriberRtcp.rtt``), before ``on_loss``."""
        if rtt is None:
            return
        self.round_trips = _window(self.round_trips, now, RTT_WINDOW, rtt)

    def queued(self) -> bool:
        """Whether the round trip stands ``QUEUE_DELAY`` above the least of ``RTT_WINDOW``, for the
        last ``QUEUE_ROUNDS`` rounds."""
        if len(self.round_trips) <= QUEUE_ROUNDS:
            return False
        least = min(value for _, value in self.round_trips)
        return all(value - least >= QUEUE_DELAY for _, value in self.round_trips[-QUEUE_ROUNDS:])

    def proven(self, now: float) -> int:
        """What the link has shown it carries, bit/s: the most it delivered with no queue in its path
        within ``CARRIED_WINDOW``, less ``DELAY_BACKOFF``. It stands while the queue overflows: an overflow
        pauses the others' video first (in the lab an overflow of a 400 kbit/s link
        for two seconds, what got through read 227 kbit/s, and the member went audio only); a link
        that cannot carry even the floor holder's overflows on and loses it when the proof is old."""
        return int(max((rate for at, rate in self.carried if now - at < CARRIED_WINDOW), default=0) * DELAY_BACKOFF)

    def rate_at(self, now: float) -> int:
        """What the subscriber can take, bit/s: while its queue overflows, what got through less a
        margin (``overflow_rate``); else its REMB (the default before one), or, while no queue stands in the
        path, what the link has shown it carries (``proven``) when that is more: a browser starved of
        CPU reports a REMB of 12-70 kbit/s on a link carrying 130-190 kbit/s with no queue, and at 10%
        random loss (every round lossy) each dip of it read as congestion and paused every video the
        floor holder sees. A queue in the path is the REMB's to read (every second of it is delay in
        everyone's audio); the proof then keeps only the floor holder's video (``allocate``)."""
        if self.overflow_rate is not None and self.overflowing(now):
            return self.overflow_rate
        remb = self.remb if self.remb is not None else DEFAULT_ESTIMATE
        proven = self.proven(now)
        rate = remb if self.queued() else max(remb, proven)
        recovering = self.recovering(now)
        return rate if recovering is None else min(rate, max(recovering, proven))

    def recovering(self, now: float) -> int | None:
        """After an overflow, the most the estimate may be: ``overflow_rate`` growing by
        ``RECOVERY_GROWTH`` a second from the end of its hold, until it passes the REMB (None: no
        bound). A REMB that did not fall while the queue overflowed is no figure to go back to at
        once: in the lab a member capped at 400 kbit/s went from 174 kbit/s back to a REMB of 827
        kbit/s when the hold ended, every video resumed (a keyframe asked of each publisher, for
        everyone who sees it), and the queue overflowed again a second later."""
        if self.overflow_rate is None or self.overflowed_at is None:
            return None
        grown = self.overflow_rate * RECOVERY_GROWTH ** max(0.0, now - self.overflowed_at - CONGESTION_HOLD)
        if self.remb is not None and grown >= self.remb:
            return None
        return int(grown)

    def on_remb(self, bitrate: int, now: float = 0.0, fell: bool = False) -> None:
        """The latest REMB; ``fell``: one came lower than the one before it since the last round
        (``seam.SubscriberRtcp.remb_fell``: REMBs come several times a round)."""
        if self.born is None:
            self.born = now
        bitrate = max(0, bitrate)
        fell = fell or (self.remb is not None and bitrate < self.remb * REMB_FALL)
        if fell and not self._settling(now):
            self.congested_at = now
        self.remb = bitrate

    def on_loss(
        self, fraction: float, now: float = 0.0, delivered: int | None = None, overall: float | None = None
    ) -> None:
        """A report round's worst fraction lost on the subscriber's own link (what its publishers'
        uplinks lost taken out): it gates probes, and (``overall`` when there is one) it is half of
        congestion's evidence. It lowers the
        estimate only when the queue overflows: after ``SEVERE_ROUNDS`` rounds in which ``overall``
        (the share of all our video packets lost, from a sample large enough to tell) was
        ``SEVERE_LOSS`` or more while the round trip showed a queue (``queued``), the estimate is
        ``delivered`` (bit/s that reached the subscriber this round: a full queue drains at the link's
        rate, so that is what it carries) less ``DRAIN_MARGIN``."""
        self.loss = fraction
        if self._after_outage(now):
            self.severe_rounds = 0
            return
        if (overall if overall is not None else fraction) >= CONGESTION_LOSS:
            self.lossy_at = now
        severe = overall is not None and overall >= SEVERE_LOSS and self.queued()
        self.severe_rounds = self.severe_rounds + 1 if severe else 0
        if delivered and not self.queued():
            self.carried = _window(self.carried, now, CARRIED_WINDOW, delivered)
        if self.severe_rounds >= SEVERE_ROUNDS and delivered:
            self.overflow_rate, self.overflowed_at = int(delivered * DRAIN_MARGIN), now
