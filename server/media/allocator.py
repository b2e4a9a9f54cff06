"""What each subscriber's link can carry, and what it is sent: pure decisions, no I/O, no clock.

Without simulcast the forwarder cannot send one subscriber less of a video than another gets; what
it can do is send a subscriber fewer videos, and ask a publisher to send no more than its
subscribers can take. Both follow from one figure per subscriber, its ``estimate.Estimate`` (what
the subscriber's browser says it receives well, its REMB, checked against what its link carried), and this
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

Only congestion pauses what flows (``estimate.Estimate.congested``: a falling REMB with loss, or a
queue that overflows), never a low figure or random loss alone.

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

from server.media.estimate import CONGESTION_HOLD

AUDIO_RATE = 48_000  # bit/s an Opus stream takes on the wire (payload ~32 kbit/s, RTP/UDP/IP, SRTP)
MIN_VIDEO_RATE = 120_000  # bit/s below which a browser's VP8 is a slideshow: not worth keeping on
RELAX = 1.08  # a subscriber's limit on a publisher grows by this a round once its link is calm
MIN_PUBLISHER_RATE = 150_000  # bit/s: a publisher is never asked for less (a floor holder to a weak link)
RESUME_MARGIN = 1.25  # a paused video resumes when the estimate covers it this many times over
# And not within this long of the last pause (the floor holder's aside): a starved browser's round trip
# and REMB swing from one second to the next, and in the lab at 2% loss a member's videos were paused
# and resumed every second for eight seconds, a keyframe asked of a publisher at each resume.
RESUME_HOLD = 4.0
HIGH_LOSS = 0.10  # a receiver report's fraction lost above this ends a probe
LOW_LOSS = 0.02  # a probe is tried only below this
PROBE_AFTER = 8.0  # seconds a pause lasts before one paused video is tried again (doubles on failure)
MAX_PROBE_AFTER = 64.0
PROBE_HOLD = 4.0  # seconds a probe is kept on, loss permitting, for the estimate to grow into it
LAYER_UP_MARGIN = 1.25  # a higher layer is taken when the allowance covers its rate this many times over
# ... and when it carries at least this many times the rate of the layer below it. A browser gives its
# lowest layer its bitrate first and the top layer what is left (libwebrtc: 640x480 at 150-500 kbit/s
# above a 320x240 one at up to 150); a top layer carrying less than 1.5 times the low one is near the
# least it is encoded at, and is the one turned off next. In the lab such layers (110-210 kbit/s over
# 70-140) stood still 1.5-2 s after the keyframe each move up asked of them.
LAYER_UP_RATIO = 1.5
# Every layer switch costs the publisher a keyframe. A CPU-starved publisher's browser turns its top layer
# off and on, and a starved subscriber's REMB swings: in the lab at a load of 14-20 two publishers encoded
# some 30 keyframes a minute on a clean network, one per switch of one subscriber. So after a step down a
# step up waits ``LAYER_UP_HOLD``; an up that does not last that long doubles the next wait (to ``MAX_LAYER_UP_HOLD``).
LAYER_UP_HOLD = 4.0
MAX_LAYER_UP_HOLD = 64.0
# A step down that the tile alone asks for (the allowance still carries the layer) waits this long: in
# speaker view the large tile follows whoever speaks, and in the lab (three members, fake microphones
# beeping in turn) each change of speaker moved two copies, one up and one down, every 2-10 s: 16
# keyframes a minute from one publisher on a clean network, and a keyframe is a burst the receivers'
# decoders can count as a freeze. Held, a speaker who speaks again within it costs no switch at all.
TILE_DOWN_HOLD = 10.0


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
    resume_after: float = float("-inf")  # no video but the floor holder's resumes by the estimate before this
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
    queued: bool = False,
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
    ``queued``: whether a queue stands in the path now (``Estimate.queued``): no probe starts then (in
    the lab a probe started with the round trip a second above its least, and overflowed the queue).
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
            keep = take * margin <= left and (pid not in pacer.paused or now >= pacer.resume_after)
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
        pacer.paused_at, pacer.resume_after = now, now + RESUME_HOLD
    elif (
        paused
        and pacer.probing is None
        and now - pacer.paused_at >= pacer.probe_after
        and loss < LOW_LOSS
        and not queued
    ):
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
    off for want of bitrate): a switch to it would wait for a keyframe that never comes. Nor is a
    step up taken to a layer carrying less than ``LAYER_UP_RATIO`` times the one below it: a starved
    publisher's top layer stops and starts, and in the lab copies moved up to one arriving at 5-47
    kbit/s (starting, or dying) beside a 100-150 kbit/s low layer, and back down a second later, a
    keyframe each way. The lowest layer is the floor: pausing is ``allocate``'s decision, not this one's.
    """
    if tile in ("small", "hidden"):
        return 0
    chosen = 0
    for index, rate in enumerate(rates):
        up = current is not None and index > current
        margin = LAYER_UP_MARGIN if up else 1.0
        weaker = up and rate < rates[index - 1] * LAYER_UP_RATIO
        if index and rate > 0 and not weaker and (allowance is None or rate * margin <= allowance):
            chosen = index
    return chosen


@dataclass
class LayerHold:
    """One subscriber's copy of one simulcast video: its last step down and up, how long a step up
    waits after a step down now, and since when the tile alone asks for a lower layer."""

    down_at: float | None = None
    up_at: float | None = None
    wait: float = LAYER_UP_HOLD
    shrunk_at: float | None = None


def hold_layer(target: int, current: int | None, hold: LayerHold, now: float, fits: int | None = None) -> int:
    """The layer to move to this round, given ``choose_layer``'s ``target``: a step down at once, a
    step up only ``hold.wait`` after the last step down. A step down within ``hold.wait`` of the last
    step up means the up did not hold: the next wait doubles; one after it starts the waits over.
    ``fits``: the layer the allowance alone carries (``choose_layer`` without the tile); a step down
    the tile alone asks for (``fits`` is no lower than ``current``) waits ``TILE_DOWN_HOLD``."""
    if current is None or target >= current:
        hold.shrunk_at = None
    if current is None or target == current:
        return target
    if target < current:
        if fits is not None and fits >= current:
            hold.shrunk_at = now if hold.shrunk_at is None else hold.shrunk_at
            if now - hold.shrunk_at < TILE_DOWN_HOLD:
                return current
        hold.shrunk_at = None
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
