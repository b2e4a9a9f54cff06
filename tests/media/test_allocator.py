"""The allocator's rules (``server.media.allocator``): pure decisions, so plain values in and out."""

from __future__ import annotations

import pytest

from server.media import allocator
from server.media.allocator import (
    AUDIO_RATE,
    LAYER_UP_HOLD,
    MAX_LAYER_UP_HOLD,
    MIN_PUBLISHER_RATE,
    MIN_VIDEO_RATE,
    PROBE_AFTER,
    PROBE_HOLD,
    RESUME_HOLD,
    TILE_DOWN_HOLD,
    LayerHold,
    Pacer,
    Video,
    allocate,
    hold_layer,
    publisher_rate,
)
from server.media.estimate import CARRIED_WINDOW, CONGESTION_HOLD, QUEUE_ROUNDS, Estimate

ALEX, LEE, KIM = "alex", "lee", "kim"
VIDEOS = [Video(LEE, 500_000), Video(ALEX, 500_000), Video(KIM, 500_000)]


def test_a_link_that_carries_everything_pauses_nothing() -> None:
    share = allocate(3_000_000, 3, VIDEOS, ALEX, Pacer(), now=0.0)
    assert share.paused == frozenset() and not share.audio_only
    assert share.allowances[ALEX] == 3_000_000 - 3 * AUDIO_RATE  # the floor holder is paid for first


def test_a_weak_link_keeps_audio_and_the_floor_holders_video_and_pauses_the_others() -> None:
    share = allocate(400_000, 3, VIDEOS, ALEX, Pacer(), now=0.0)
    assert share.paused == {LEE, KIM}
    assert not share.audio_only
    # The floor holder's publisher is asked for what fits after the audio, not the rate it sends.
    assert share.allowances == {ALEX: 400_000 - 3 * AUDIO_RATE}


def test_the_floor_holder_comes_before_an_earlier_name() -> None:
    share = allocate(800_000, 2, VIDEOS, KIM, Pacer(), now=0.0)
    assert KIM not in share.paused and len(share.paused) == 2


def test_a_link_that_cannot_carry_any_video_is_audio_only_and_keeps_every_audio_stream() -> None:
    share = allocate(3 * AUDIO_RATE + MIN_VIDEO_RATE // 2, 3, VIDEOS, ALEX, Pacer(), now=0.0)
    assert share.audio_only and share.paused == {LEE, ALEX, KIM}
    assert share.allowances == {}


def test_no_video_to_receive_is_not_audio_only() -> None:
    assert not allocate(100_000, 2, [], None, Pacer(), now=0.0).audio_only


def test_a_paused_video_resumes_only_with_a_margin() -> None:
    pacer = Pacer()
    allocate(700_000, 0, VIDEOS, ALEX, pacer, now=0.0)
    assert pacer.paused == {LEE, KIM}
    just_enough = 500_000 + 500_000  # the floor holder's and one more, without the margin
    assert allocate(just_enough, 0, VIDEOS, ALEX, pacer, now=1.0).paused == {LEE, KIM}
    roomy = 500_000 + int(500_000 * allocator.RESUME_MARGIN)
    assert allocate(roomy, 0, VIDEOS, ALEX, pacer, now=RESUME_HOLD).paused == {LEE}  # in name order: stable


def test_a_paused_video_does_not_resume_within_the_hold_however_much_room_a_round_shows() -> None:
    """A starved browser's REMB and round trip swing from one second to the next: in the lab a member's
    videos were paused and resumed every second for eight seconds, a keyframe at each resume."""
    pacer = Pacer()
    allocate(600_000, 0, VIDEOS, ALEX, pacer, now=10.0, congested=False)
    assert allocate(600_000, 0, VIDEOS, ALEX, pacer, now=11.0, congested=True).paused == {LEE, KIM}
    assert allocate(3_000_000, 0, VIDEOS, ALEX, pacer, now=12.0).paused == {LEE, KIM}
    assert allocate(3_000_000, 0, VIDEOS, ALEX, pacer, now=11.0 + RESUME_HOLD).paused == frozenset()


def test_the_floor_holders_video_resumes_as_soon_as_the_estimate_carries_it() -> None:
    pacer = Pacer()
    assert allocate(50_000, 0, VIDEOS, ALEX, pacer, now=10.0, congested=True).audio_only
    assert ALEX not in allocate(700_000, 0, VIDEOS, ALEX, pacer, now=11.0).paused


def test_a_quiet_pause_is_probed_and_a_probe_that_brings_loss_is_paused_again_with_a_longer_wait() -> None:
    pacer = Pacer()
    allocate(700_000, 0, VIDEOS, ALEX, pacer, now=0.0)
    assert allocate(700_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER - 1).paused == {LEE, KIM}
    probe = allocate(700_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER)
    assert probe.paused == {LEE} and pacer.probing == KIM
    # Held while the estimate grows into it, unless loss comes back.
    assert allocate(700_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER + 1).paused == {LEE}
    again = allocate(700_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER + 2, loss=0.2)
    assert again.paused == {LEE, KIM} and pacer.probing is None
    assert pacer.probe_after == 2 * PROBE_AFTER
    assert allocate(700_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER + 3 + PROBE_AFTER).paused == {LEE, KIM}


def test_a_probe_that_brings_high_loss_is_paused_again_before_congestion_is_read() -> None:
    """In the lab a probe's loss came a round before the overflow was read: calm then, the probe was
    kept as a success, and the overflow that followed took everything."""
    pacer = Pacer()
    allocate(700_000, 0, VIDEOS, ALEX, pacer, now=0.0)
    allocate(700_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER, congested=False)
    assert pacer.probing == KIM
    lossy = allocate(700_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER + 1, loss=0.5, congested=False)
    assert lossy.paused == {LEE, KIM} and pacer.probe_after == 2 * PROBE_AFTER


def test_a_probe_the_estimate_grew_into_stays() -> None:
    pacer = Pacer()
    allocate(700_000, 0, VIDEOS, ALEX, pacer, now=0.0)
    allocate(700_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER)
    assert pacer.probing == KIM
    kept = allocate(1_100_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER + PROBE_HOLD)
    assert kept.paused == {LEE} and pacer.probing is None and pacer.probe_after == PROBE_AFTER


def test_a_failed_probe_is_taken_back_alone_and_its_congestion_pauses_nothing_that_flowed_before() -> None:
    """Seen in the lab (a member capped at 400 kbit/s): a probe of a second video overflowed the link,
    the browser's REMB fell to 148 kbit/s, and the floor holder's video, which had flowed for seconds,
    was paused with the probe: the member was audio only until the next probe, 16 s on."""
    videos = [Video(ALEX, 150_000), Video(LEE, 150_000)]
    pacer = Pacer()
    assert allocate(300_000, 2, videos, ALEX, pacer, now=0.0).paused == {LEE}  # audio and the floor fit
    allocate(300_000, 2, videos, ALEX, pacer, now=PROBE_AFTER)
    assert pacer.probing == LEE
    failed = allocate(148_000, 2, videos, ALEX, pacer, now=PROBE_AFTER + 1, loss=0.2)
    assert failed.paused == {LEE} and not failed.audio_only and pacer.probing is None
    # The congestion was the probe's: while it lasts, the floor holder's video stays.
    assert allocate(160_000, 2, videos, ALEX, pacer, now=PROBE_AFTER + 3, loss=0.05).paused == {LEE}
    # Congestion after that is the link's own, and a link this narrow is audio only.
    later = allocate(160_000, 2, videos, ALEX, pacer, now=PROBE_AFTER + 1 + CONGESTION_HOLD, loss=0.05)
    assert later.audio_only and later.paused == {ALEX, LEE}


def test_no_probe_while_loss_is_high() -> None:
    pacer = Pacer()
    allocate(700_000, 0, VIDEOS, ALEX, pacer, now=0.0)
    assert allocate(700_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER, loss=0.05).paused == {LEE, KIM}


def test_no_probe_while_a_queue_stands_in_the_path() -> None:
    """In the lab a probe started with the capped member's round trip a second above its least: the
    queue overflowed, and its NACKs for packets long gone asked every publisher for keyframes."""
    pacer = Pacer()
    allocate(700_000, 0, VIDEOS, ALEX, pacer, now=0.0)
    assert allocate(700_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER, queued=True).paused == {LEE, KIM}
    assert pacer.probing is None
    assert allocate(700_000, 0, VIDEOS, ALEX, pacer, now=PROBE_AFTER + 1).paused == {LEE}  # drained: a probe


def test_the_publisher_rate_is_the_least_allowance_within_bounds_never_a_fixed_figure() -> None:
    assert publisher_rate([900_000, 300_000], cap=600_000) == 300_000
    assert publisher_rate([900_000], cap=600_000) == 600_000
    assert publisher_rate([10_000], cap=600_000) == MIN_PUBLISHER_RATE
    assert publisher_rate([], cap=600_000) == 600_000


def test_an_overflow_pauses_what_does_not_fit_and_keeps_the_floor_holder() -> None:
    """In the lab an overflow of a 400 kbit/s link lasting two seconds: what got through
    read 227 kbit/s, below audio and the floor holder's video, though the link had carried both and
    more a second before. The others' video goes; the floor holder's stays while that proof is fresh."""
    estimate, pacer = Estimate(), Pacer()
    videos = [Video(ALEX, 150_000), Video(LEE, 150_000)]
    estimate.on_remb(70_000, now=0.0)
    calm = allocate(estimate.rate_at(0.0), 2, videos, ALEX, pacer, 0.0, congested=estimate.congested(0.0))
    assert calm.paused == set()  # a low REMB alone pauses nothing
    for second in range(20, 30):  # carried cleanly: two audio streams and both videos
        estimate.on_loss(0.0, now=float(second), delivered=420_000, overall=0.0)
    estimate.on_rtt(0.05, now=20.0)
    estimate.on_rtt(0.65, now=29.0)
    estimate.on_rtt(0.65, now=30.0)
    for now in (30.0, 31.0, 32.0):
        estimate.on_loss(0.6, now=now, delivered=227_000, overall=0.6)
    assert estimate.rate_at(32.0) - 2 * AUDIO_RATE < MIN_VIDEO_RATE

    def share(now: float) -> allocator.Allocation:
        congested, proven = estimate.congested(now), estimate.proven(now)
        return allocate(estimate.rate_at(now), 2, videos, ALEX, pacer, now, 0.6, congested, proven)

    overflowed = share(32.0)
    assert overflowed.paused == {LEE} and not overflowed.audio_only
    # A link that cannot carry even that overflows on: once the proof is old, audio only.
    for second in range(33, 41):
        estimate.on_rtt(0.65, now=float(second))
        estimate.on_loss(0.6, now=float(second), delivered=120_000, overall=0.6)
    assert share(40.0).audio_only


def test_subscriber_rtcp_reads_remb_and_each_videos_worst_loss_in_its_receiver_reports() -> None:
    """The parsing half of the estimate (``seam.SubscriberRtcp.on_rtcp``), on packets as Chromium writes them."""
    from types import SimpleNamespace
    from typing import Any

    from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtcpReceiverInfo, RtcpRrPacket, pack_remb_fci

    from server.media.seam import SubscriberRtcp

    rtcp = SubscriberRtcp()
    video: Any = SimpleNamespace(ssrc=1111, kind="video")
    audio: Any = SimpleNamespace(ssrc=2222, kind="audio")
    rtcp.senders = {1111: video, 2222: audio}
    assert rtcp.remb is None and rtcp.take_losses() == {}

    def block(ssrc: int, lost: int) -> RtcpReceiverInfo:
        return RtcpReceiverInfo(
            ssrc=ssrc, fraction_lost=lost, packets_lost=0, highest_sequence=0, jitter=0, lsr=0, dlsr=0
        )

    rr = RtcpRrPacket(ssrc=9, reports=[block(1111, 26), block(2222, 128)])  # 10% video, 50% audio
    remb = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=9, media_ssrc=0, fci=pack_remb_fci(345_678, [1111]))
    rtcp.on_rtcp(bytes(rr) + bytes(remb))
    assert rtcp.remb is not None and abs(rtcp.remb - 345_678) <= 345_678 >> 17  # an 18-bit mantissa
    assert rtcp.take_losses() == {1111: 26 / 256}  # audio's loss does not steer video
    assert rtcp.take_losses() == {}  # taken: the next round starts afresh


def test_without_congestion_nothing_that_flows_is_paused() -> None:
    """A receiver's REMB trails what it is sent and starts low: a low figure alone pauses nothing."""
    pacer = Pacer()
    assert allocate(400_000, 2, VIDEOS, ALEX, pacer, now=0.0, congested=False).paused == frozenset()
    assert allocate(400_000, 2, VIDEOS, ALEX, pacer, now=1.0, congested=True).paused == {LEE, KIM}
    # Paused ones do not come back for a calm round alone: they need room (or a probe).
    assert allocate(400_000, 2, VIDEOS, ALEX, pacer, now=2.0, congested=False).paused == {LEE, KIM}


def test_a_publisher_limit_holds_while_congested_and_relaxes_to_the_cap_after() -> None:
    assert allocator.relax(None, 300_000, congested=True, cap=600_000) == 300_000
    assert allocator.relax(None, 300_000, congested=False, cap=600_000) is None  # calm: no limit at all
    limit = allocator.relax(300_000, 250_000, congested=True, cap=600_000)
    assert limit == 250_000
    rounds = 0
    while limit is not None:
        assert limit < 600_000
        limit, rounds = allocator.relax(limit, 250_000, congested=False, cap=600_000), rounds + 1
    assert rounds == 12  # 250k x 1.08^12 > 600k: back to the cap in about twelve seconds, not at once


LAYERS = [150_000, 450_000, 1_200_000]  # a publisher's simulcast layers as they arrive, lowest first


def test_a_large_tile_gets_the_highest_layer_the_allowance_carries() -> None:
    assert allocator.choose_layer(LAYERS, 2_000_000, "large", current=2) == 2
    assert allocator.choose_layer(LAYERS, 600_000, "large", current=2) == 1
    assert allocator.choose_layer(LAYERS, 100_000, "large", current=1) == 0  # the floor: never paused here


def test_no_hint_and_no_allowance_take_the_top_flowing_layer() -> None:
    assert allocator.choose_layer(LAYERS, None, None, current=0) == 2


def test_a_small_or_hidden_tile_gets_the_lowest_layer_whatever_the_estimate() -> None:
    assert allocator.choose_layer(LAYERS, 10_000_000, "small", current=2) == 0
    assert allocator.choose_layer(LAYERS, None, "hidden", current=None) == 0


def test_a_step_up_needs_a_margin_and_a_step_down_does_not() -> None:
    assert allocator.choose_layer(LAYERS, 500_000, "large", current=0) == 0  # 450k x 1.25 does not fit
    assert allocator.choose_layer(LAYERS, 500_000, "large", current=1) == 1  # it stays where it is
    assert allocator.choose_layer(LAYERS, 600_000, "large", current=0) == 1


def test_a_layer_that_does_not_flow_is_never_chosen() -> None:
    assert allocator.choose_layer([150_000, 450_000, 0], None, "large", current=1) == 1
    assert allocator.choose_layer([0, 0, 0], None, None, current=None) == 0  # nothing measured: start low
    assert allocator.choose_layer([], None, None, current=None) == 0


def test_a_step_down_is_taken_at_once_and_a_step_up_after_it_waits() -> None:
    """Each switch costs a keyframe: a top layer that flickers (a CPU-starved publisher) must not
    move its subscribers up and down every round."""
    hold = LayerHold()
    assert hold_layer(1, 0, hold, 0.0) == 1  # no step down yet: up at once (a tile made large)
    assert hold_layer(0, 1, hold, 1.0) == 0  # down at once: the up lasted less than the wait
    assert hold.wait == 2 * LAYER_UP_HOLD
    assert hold_layer(1, 0, hold, 2.0) == 0  # up held back ...
    assert hold_layer(1, 0, hold, 1.0 + 2 * LAYER_UP_HOLD) == 1  # ... until the doubled wait is over
    assert hold_layer(0, 1, hold, 2.0 + 2 * LAYER_UP_HOLD) == 0  # failed again: the wait doubles again
    assert hold.wait == 4 * LAYER_UP_HOLD


def test_layer_waits_double_to_a_bound_and_start_over_after_an_up_that_held() -> None:
    hold = LayerHold()
    now = 0.0
    for _ in range(12):  # up, and down a moment later, again and again
        now += hold.wait
        assert hold_layer(1, 0, hold, now) == 1
        now += 0.5
        assert hold_layer(0, 1, hold, now) == 0
    assert hold.wait == MAX_LAYER_UP_HOLD
    now += hold.wait
    assert hold_layer(1, 0, hold, now) == 1
    now += MAX_LAYER_UP_HOLD  # this one held
    assert hold_layer(0, 1, hold, now) == 0
    assert hold.wait == LAYER_UP_HOLD
    assert hold_layer(1, 1, hold, now) == 1 and hold_layer(0, None, hold, now) == 0  # no move, no layer yet


def test_what_a_publishers_uplink_lost_is_not_taken_for_the_subscribers_own_loss() -> None:
    """A subscriber's report counts what the publisher's uplink lost too (the forwarder keeps upstream
    gaps): only the rest is the subscriber's link. One member's weak uplink must never read as
    congestion on everybody else's downlink."""
    from types import SimpleNamespace
    from typing import Any

    from server.media.bandwidth import own_losses

    def copy(ssrc: int, upstream: float) -> Any:
        return SimpleNamespace(
            sink=SimpleNamespace(lean=SimpleNamespace(ssrc=ssrc), source=SimpleNamespace(upstream_loss=upstream))
        )

    peer: Any = SimpleNamespace(
        outgoing={(LEE, "video"): copy(1, 0.5), (ALEX, "video"): copy(2, 0.0), (ALEX, "audio"): copy(3, 0.0)}
    )
    assert own_losses(peer, {}) == {}
    assert own_losses(peer, {1: 0.5}) == {1: 0.0}  # all of it Lee's uplink's
    assert own_losses(peer, {1: 0.6, 2: 0.1}) == pytest.approx({1: 0.2, 2: 0.1})
    assert own_losses(peer, {3: 0.9}) == {}  # audio's loss does not steer video


def test_the_floor_holders_video_stays_while_the_link_has_shown_it_carries_it_whatever_a_low_remb_says() -> None:
    """In the lab a browser starved of CPU reported 19 kbit/s, with some loss, on a link that carried
    its audio and the floor holder's video with no queue in its path: the member went audio only for
    17 s. What got through with no queue within ``CARRIED_WINDOW`` keeps the floor; random loss (10%
    never reads under 5%) is no sign the link cannot carry it. A queue in the path ends the proof."""
    estimate, pacer = Estimate(), Pacer()
    videos = [Video(ALEX, 150_000), Video(LEE, 150_000)]
    estimate.on_remb(400_000, now=0.0)

    def starved(now: float, rtt: float) -> allocator.Allocation:
        estimate.on_rtt(rtt, now)
        estimate.on_remb(20_000, now=now, fell=True)
        estimate.on_loss(0.1, now=now, delivered=260_000)
        assert estimate.congested(now)
        return allocate(estimate.rate_at(now), 2, videos, ALEX, pacer, now, 0.1, True, estimate.proven(now))

    for second in range(20, 40):
        share = starved(float(second), rtt=0.05)
        assert share.paused == {LEE} and not share.audio_only
    for second in range(40, 40 + int(CARRIED_WINDOW) + QUEUE_ROUNDS - 1):  # a queue stands in the path now
        share = starved(float(second), rtt=0.5)
    assert share.audio_only  # the proof is old: the REMB rules


def test_the_proof_keeps_a_floor_holders_video_that_arrives_under_the_minimum_rate() -> None:
    """A starved publisher's video arrived at 13-106 kbit/s in the lab, under ``MIN_VIDEO_RATE``: the link
    had carried it with the audio, and a collapsed REMB still took it (audio only) until this."""
    videos = [Video(ALEX, 70_000)]
    proven = 2 * AUDIO_RATE + 80_000
    share = allocate(20_000, 2, videos, ALEX, Pacer(), now=30.0, loss=0.1, congested=True, proven=proven)
    assert share.paused == set() and not share.audio_only
    assert allocate(20_000, 2, [Video(ALEX, 0)], ALEX, Pacer(), 30.0, 0.1, True, proven).audio_only  # nothing arrives


def test_a_step_down_the_tile_alone_asks_for_waits_and_a_speaker_back_within_it_costs_no_switch() -> None:
    """Speaker view enlarges whoever speaks: in the lab each change of speaker moved one copy up and one
    down every few seconds, a keyframe each. A smaller tile is no hurry while the allowance carries the layer."""
    hold = LayerHold()
    assert hold_layer(0, 1, hold, 10.0, fits=1) == 1  # the tile went small: held
    assert hold_layer(0, 1, hold, 15.0, fits=1) == 1
    assert hold_layer(1, 1, hold, 16.0, fits=1) == 1  # large again within the hold: no switch happened
    assert hold_layer(0, 1, hold, 17.0, fits=1) == 1  # small again: the wait starts over
    assert hold_layer(0, 1, hold, 17.0 + TILE_DOWN_HOLD - 0.5, fits=1) == 1
    assert hold_layer(0, 1, hold, 17.0 + TILE_DOWN_HOLD, fits=1) == 0  # small all along: down


def test_a_step_down_the_allowance_asks_for_is_taken_at_once_whatever_the_tile() -> None:
    hold = LayerHold()
    assert hold_layer(0, 1, hold, 10.0, fits=1) == 1  # the tile alone: held
    assert hold_layer(0, 1, hold, 11.0, fits=0) == 0  # the allowance no longer carries it (or it stopped)
    assert hold_layer(0, 2, LayerHold(), 0.0, fits=1) == 0  # carried only below the current one: at once


def test_no_step_up_to_a_layer_carrying_less_than_half_again_the_one_below() -> None:
    """A starved publisher's top layer stops and starts: copies moved up to one arriving at 5-47 kbit/s
    beside a 100-150 kbit/s low layer, and down again a second later, a keyframe each way; layers at
    110-210 kbit/s over 70-140 stood still 1.5-2 s after the keyframe each move up asked of them."""
    assert allocator.choose_layer([107_600, 34_144], 2_000_000, "large", current=0) == 0
    assert allocator.choose_layer([136_303, 167_175], 2_000_000, "large", current=0) == 0
    assert allocator.choose_layer([140_000, 209_000], 2_000_000, "large", current=0) == 0
    assert allocator.choose_layer([140_000, 340_000], 2_000_000, "large", current=0) == 1  # a healthy top layer
    assert allocator.choose_layer([150_000, 90_000], 2_000_000, "large", current=1) == 1  # a move down is no step up
