"""What each subscriber's link can carry, and what it is sent: pure decisions, no I/O, no clock.

Without simulcast the forwarder cannot send one subscriber less of a video than another gets; what
it can do is send a subscriber fewer videos, and ask a publisher to send no more than its
subscribers can take. Both follow from one figure per subscriber, its ``Estimate`` (what the
subscriber's browser says it receives well: its REMB, from its delay-based detector), and this
module's ``allocate``, which spends it in the order a group session needs:

1. every audio stream the subscriber hears (audio is never dropped for video);
2. the floor holder's video (the person everyone is listening to);
3. the others' video, in a stable order (those already flowing first, so nobody's tile flickers).

A video that does not fit is paused for that subscriber alone (its page says "video paused to keep
your audio clear"); a subscriber whose estimate cannot carry even the floor holder's video is
"audio only" for now. A paused video comes back when the estimate has room for it with a margin,
or, as a probe, after a quiet interval with little loss (a receiver's estimate cannot grow past
what it is sent, so waiting for it alone would never resume anything): a probe that brings
congestion back is paused again and the next one waits twice as long. It alone: the congestion it
brought pauses nothing that flowed before it, for ``CONGESTION_HOLD`` (in the lab a probe of a second
video overflowed a 400 kbit/s link, the REMB fell to 148 kbit/s, and the floor holder's video, which
had flowed for seconds, was paused with it: the member was audio only until the next probe, 16 s on).

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

``publisher_rate`` turns the subscribers' figures into the REMB each publisher is sent: the least
any of its unpaused subscribers can take for it, within ``MIN_PUBLISHER_RATE`` and the cap.

With simulcast (a browser publishing two or three layers by RID) the forwarder can send a subscriber
a lower layer instead of pausing: ``choose_layer`` picks one layer per (subscriber, publisher) from
what the allocation left for that video and the size of the tile the subscriber shows it in.

The engine (``server.media.engine``) feeds these from RTCP once a second and applies the outcome
with the forwarder's gates; ``tests/media/test_allocator.py`` holds the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

AUDIO_RATE = 48_000  # bit/s an Opus stream takes on the wire (payload ~32 kbit/s, RTP/UDP/IP, SRTP)
MIN_VIDEO_RATE = 120_000  # bit/s below which a browser's VP8 is a slideshow: not worth keeping on
RELAX = 1.08  # a subscriber's limit on a publisher grows by this a round once its link is calm
MIN_PUBLISHER_RATE = 150_000  # bit/s: a publisher is never asked for less (a floor holder to a weak link)
DEFAULT_ESTIMATE = 2_500_000  # bit/s assumed before a subscriber reports anything (no REMB yet)
RESUME_MARGIN = 1.25  # a paused video resumes when the estimate covers it this many times over
HIGH_LOSS = 0.10  # a receiver report's fraction lost above this ends a probe
LOW_LOSS = 0.02  # a probe is tried only below this
CONGESTION_LOSS = 0.05  # a report with this much lost, and a falling REMB: congestion (a full queue drops)
PROBE_AFTER = 8.0  # seconds a pause lasts before one paused video is tried again (doubles on failure)
MAX_PROBE_AFTER = 64.0
PROBE_HOLD = 4.0  # seconds a probe is kept on, loss permitting, for the estimate to grow into it
REPORT_WINDOW = 1.0  # seconds between the engine's allocation rounds (the room loop's RTCP second)
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
# What a link carried (what got through) with no queue in its path (``Estimate.queued``) within
# ``CARRIED_WINDOW``, less GCC's decrease (``DELAY_BACKOFF``), keeps the floor holder's video however
# low the REMB: a browser starved of CPU reported 12-70 kbit/s on a link carrying 130-190 kbit/s with no
# queue, and its member went audio only. Random loss is no sign the link cannot carry it (at 10% a round
# never reads under 5%).
CARRIED_WINDOW = 10.0
DELAY_BACKOFF = 0.85
DRAIN_MARGIN = 0.9  # an overflowing link is then given this share of what got through, so its queue drains
REMB_FALL = 0.95  # a REMB below this share of the one before is a fall (read in ``seam.SubscriberRtcp``)
STARTUP_GRACE = 10.0  # seconds of a new link in which only high loss counts (its first REMBs settle)
LAYER_UP_MARGIN = 1.25  # a higher layer is taken when the allowance covers its rate this many times over
# Every layer switch costs the publisher a keyframe. A CPU-starved publisher's browser turns its top layer
# off and on, and a starved subscriber's REMB swings: in the lab at a load of 14-20 two publishers encoded
# some 30 keyframes a minute on a clean network, one per switch of one subscriber. So after a step down a
# step up waits ``LAYER_UP_HOLD``; an up that does not last that long doubles the next wait (to ``MAX_LAYER_UP_HOLD``).
LAYER_UP_HOLD = 4.0
MAX_LAYER_UP_HOLD = 64.0
# A subscriber whose RTCP stops this long was cut off (a phone in a tunnel, Wi-Fi gone for seconds). Its
# first reports after it describe the outage, not its link now: their loss is what was lost while it was
# away and its browser's estimate restarts low. For ``OUTAGE_GRACE`` after they resume neither counts as
# congestion (as on a new link), else every video to it would be paused for a probe's wait after each drop.
OUTAGE_SILENCE = 2.0
OUTAGE_GRACE = 5.0


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
    delivered: int | None = None  # bit/s the link carried at the last overflowing round (``on_loss``)
    overflowed_at: float | None = None  # the last round that made ``delivered`` the estimate
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
        self.round_trips = [(at, value) for at, value in self.round_trips if now - at < RTT_WINDOW]
        self.round_trips.append((now, rtt))

    def queued(self) -> bool:
        """Whether the round trip now stands ``QUEUE_DELAY`` above the least of ``RTT_WINDOW``."""
        if len(self.round_trips) < 2:
            return False
        return self.round_trips[-1][1] - min(value for _, value in self.round_trips) >= QUEUE_DELAY

    def proven(self, now: float) -> int:
        """What the link has shown it carries, bit/s: the most it delivered with no queue in its path
        within ``CARRIED_WINDOW``, less ``DELAY_BACKOFF``. It stands while the queue overflows: an overflow
        pauses the others' video first (in the lab an overflow of a 400 kbit/s link
        for two seconds, what got through read 227 kbit/s, and the member went audio only); a link
        that cannot carry even the floor holder's overflows on and loses it when the proof is old."""
        return int(max((rate for at, rate in self.carried if now - at < CARRIED_WINDOW), default=0) * DELAY_BACKOFF)

    def rate_at(self, now: float) -> int:
        """What the subscriber can take, bit/s: while its queue overflows, what got through
        (``delivered``); else its REMB (the default before one), or, while no queue stands in the
        path, what the link has shown it carries (``proven``) when that is more: a browser starved of
        CPU reports a REMB of 12-70 kbit/s on a link carrying 130-190 kbit/s with no queue, and at 10%
        random loss (every round lossy) each dip of it read as congestion and paused every video the
        floor holder sees. A queue in the path is the REMB's to read (every second of it is delay in
        everyone's audio); the proof then keeps only the floor holder's video (``allocate``)."""
        if self.delivered is not None and self.overflowing(now):
            return self.delivered
        remb = self.remb if self.remb is not None else DEFAULT_ESTIMATE
        return remb if self.queued() else max(remb, self.proven(now))

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
        uplinks lost taken out): half of congestion's evidence, and it gates probes. It lowers the
        estimate only when the queue overflows: after ``SEVERE_ROUNDS`` rounds in which ``overall``
        (the share of all our video packets lost, from a sample large enough to tell) was
        ``SEVERE_LOSS`` or more while the round trip showed a queue (``queued``), the estimate is
        ``delivered`` (bit/s that reached the subscriber this round: a full queue drains at the link's
        rate, so that is what it carries) less ``DRAIN_MARGIN``."""
        self.loss = fraction
        if self._after_outage(now):
            self.severe_rounds = 0
            return
        if fraction >= CONGESTION_LOSS:
            self.lossy_at = now
        severe = overall is not None and overall >= SEVERE_LOSS and self.queued()
        self.severe_rounds = self.severe_rounds + 1 if severe else 0
        if delivered and not self.queued():
            self.carried = [(at, rate) for at, rate in self.carried if now - at < CARRIED_WINDOW]
            self.carried.append((now, delivered))
        if self.severe_rounds >= SEVERE_ROUNDS and delivered:
            self.delivered, self.overflowed_at = int(delivered * DRAIN_MARGIN), now


@dataclass(frozen=True)
class Video:
    """One video the subscriber may receive: whose, and at what rate it arrives from the publisher."""

    publisher_id: str
    rate: int


@dataclass(frozen=True)
class Allocation:
    """A subscriber's share: whose video is paused for it, whether it takes no video at all, and
    what each video it keeps may take (bit/s: its budget less the videos ranked before it)."""

    paused: frozenset[str] = frozenset()
    audio_only: bool = False
    allowances: dict[str, int] = field(default_factory=dict, hash=False)


@dataclass
class Pacer:
    """A subscriber's allocation state between rounds: what is paused since when, and the probe."""

    paused: frozenset[str] = frozenset()
    paused_at: float = 0.0
    probe_after: float = PROBE_AFTER
    probing: str | None = None  # a paused video resumed as a probe, held for ``PROBE_HOLD``
    probe_started: float = 0.0
    # Until then, what flowed before a failed probe is kept whatever the congestion (it was the probe's).
    sheltered_until: float = float("-inf")


def allocate(
    estimate: int,
    audio_streams: int,
    videos: Iterable[Video],
    floor: str | None,
    pacer: Pacer,
    now: float,
    loss: float = 0.0,
    congested: bool = True,
    proven: int = 0,
) -> Allocation:
    """Decide one subscriber's share for this round and update ``pacer``.

    ``estimate``: what the subscriber can take (bit/s). ``audio_streams``: how many audio streams it
    hears (paid for first, always). ``videos``: the videos it may see (the policy's gates already
    applied); ``floor``: the floor holder or active speaker, whose video is kept while the budget
    carries ``MIN_VIDEO_RATE`` (its publisher is asked to send what fits: ``publisher_rate``); the
    others are kept only at the rate they arrive. ``loss``: the latest fraction lost (a probe is
    tried only when it is low, and given up when it is high). ``now``: seconds, any monotonic clock.
    ``congested``: whether the link showed congestion lately (``Estimate.congested``); without it
    nothing that flows is paused, whatever the estimate (a receiver's REMB trails what it is sent).
    ``proven``: what the link has shown it carries (``Estimate.proven``): the floor holder's video
    is kept while that pays for it too, at the rate it arrives, whatever a low estimate says.
    """
    budget = estimate - audio_streams * AUDIO_RATE
    ordered = sorted(videos, key=lambda v: (v.publisher_id != floor, v.publisher_id in pacer.paused, v.publisher_id))
    present = {v.publisher_id for v in ordered}
    if pacer.probing is not None and pacer.probing not in present:
        pacer.probing = None
    holding = pacer.probing is not None and now - pacer.probe_started < PROBE_HOLD and loss <= HIGH_LOSS
    calm = not congested
    # A probe that ends now (it stays or goes) answers for the congestion seen while it was on.
    sheltered = (pacer.probing is not None and not holding) or now < pacer.sheltered_until
    paused: set[str] = set()
    allowances: dict[str, int] = {}
    used = 0
    for video in ordered:
        pid = video.publisher_id
        left = budget - used
        margin = RESUME_MARGIN if pid in pacer.paused and pid != pacer.probing else 1.0
        if pid == floor:
            # Or the link has shown it carries this video (at the rate it arrives when that is less: a starved
            # publisher's came at 13-106 kbit/s in the lab's 10% cells, carried, then paused on a 19 kbit/s REMB).
            shown = proven - audio_streams * AUDIO_RATE - used
            need = min(video.rate, MIN_VIDEO_RATE) if video.rate > 0 else MIN_VIDEO_RATE
            keep = left >= MIN_VIDEO_RATE * margin or need * margin <= shown
            take = min(max(video.rate, MIN_VIDEO_RATE), left)
        else:
            take = max(video.rate, MIN_VIDEO_RATE)
            keep = take * margin <= left
        flowing = pid not in pacer.paused or pid == pacer.probing
        before_probe = pid not in pacer.paused and pid != pacer.probing
        # A probe that brought high loss failed, whether or not congestion is read yet (it follows a round on).
        failed = pid == pacer.probing and loss > HIGH_LOSS
        kept = keep or (holding and pid == pacer.probing) or (calm and flowing) or (sheltered and before_probe)
        if kept and not failed:
            allowances[pid] = max(0, left)
            used += take
        else:
            paused.add(pid)
    if pacer.probing is not None and not holding:
        # The probe's hold is over: it stayed (the estimate grew to carry it) or it was paused again,
        # and then the next probe waits twice as long.
        if pacer.probing in paused:
            pacer.probe_after = min(pacer.probe_after * 2, MAX_PROBE_AFTER)
            pacer.sheltered_until = now + CONGESTION_HOLD
        else:
            pacer.probe_after = PROBE_AFTER
        pacer.probing, pacer.paused_at = None, now
    if paused - pacer.paused:
        pacer.paused_at = now
    elif paused and pacer.probing is None and now - pacer.paused_at >= pacer.probe_after and loss < LOW_LOSS:
        # Nothing newly paused, a quiet wait with little loss: try the first paused video again.
        candidate = next(v for v in ordered if v.publisher_id in paused)
        paused.discard(candidate.publisher_id)
        allowances[candidate.publisher_id] = max(0, budget - used)
        pacer.probing, pacer.probe_started = candidate.publisher_id, now
    pacer.paused = frozenset(paused)
    return Allocation(pacer.paused, bool(present) and paused >= present, allowances)


def choose_layer(rates: Sequence[int], allowance: int | None, tile: str | None, current: int | None) -> int:
    """Which simulcast layer (index into ``rates``, lowest first) one subscriber gets of one video.

    ``rates``: each layer's arrival rate (bit/s; 0 before it is measured). ``allowance``: what the
    allocation left for this video (``Allocation.allowances``; None: no figure, so no limit).
    ``tile``: the page's hint (``signaling.ports.TILE_SIZES``; None: not told). ``current``: the layer sent now.
    A small or hidden tile gets the lowest layer (more pixels than it shows are wasted). Otherwise
    the highest flowing layer whose rate fits the allowance: a step up needs ``LAYER_UP_MARGIN`` (a
    layer's rate moves with the picture, and every switch costs a keyframe), a step down is taken at
    once. A layer with no rate is not flowing (not measured yet, or the publisher's encoder turned it
    off for want of bitrate): a switch to it would wait for a keyframe that never comes. The lowest
    layer is the floor: pausing is ``allocate``'s decision, not this one's.
    """
    if tile in ("small", "hidden"):
        return 0
    chosen = 0
    for index, rate in enumerate(rates):
        margin = LAYER_UP_MARGIN if current is not None and index > current else 1.0
        if index and rate > 0 and (allowance is None or rate * margin <= allowance):
            chosen = index
    return chosen


@dataclass
class LayerHold:
    """One subscriber's copy of one simulcast video: its last step down and up, and how long a step
    up waits after a step down now."""

    down_at: float | None = None
    up_at: float | None = None
    wait: float = LAYER_UP_HOLD


def hold_layer(target: int, current: int | None, hold: LayerHold, now: float) -> int:
    """The layer to move to this round, given ``choose_layer``'s ``target``: a step down at once, a
    step up only ``hold.wait`` after the last step down. A step down within ``hold.wait`` of the last
    step up means the up did not hold: the next wait doubles; one after it starts the waits over."""
    if current is None or target == current:
        return target
    if target < current:
        if hold.up_at is not None and now - hold.up_at < hold.wait:
            hold.wait = min(hold.wait * 2, MAX_LAYER_UP_HOLD)
        else:
            hold.wait = LAYER_UP_HOLD
        hold.down_at = now
        return target
    if hold.down_at is not None and now - hold.down_at < hold.wait:
        return current
    hold.up_at = now
    return target


def relax(previous: float | None, allowance: float | None, congested: bool, cap: int) -> float | None:
    """One subscriber's limit on a publisher's rate from round to round: while the link is congested,
    its allowance (``Allocation.allowances``); once it is not, the last limit grows by ``RELAX`` a
    round until it reaches the cap and no longer binds (None). A limit that jumped back to the cap
    would overflow the same link again within a second."""
    if congested and allowance is not None:
        return allowance
    if previous is None:
        return None
    grown = previous * RELAX
    return None if grown >= cap else grown


def publisher_rate(allowances: Iterable[int], cap: int) -> int:
    """The REMB a publisher is sent: the least of its unpaused subscribers' allowances, within
    ``MIN_PUBLISHER_RATE`` and ``cap`` (the operator's ``video_bitrate_cap``); ``cap`` when nobody
    receives its video (a browser then sends what it would anyway, and nobody pays for it)."""
    least = min(allowances, default=cap)
    return max(MIN_PUBLISHER_RATE, min(cap, int(least)))
