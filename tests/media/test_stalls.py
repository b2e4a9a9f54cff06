"""When a simulcast layer has stalled, and where its copies go (``server.media.stalls``, pure)."""

from __future__ import annotations

from server.media.stalls import MAX_REST, REST_AFTER_STALL, STALL_AFTER, LayerClock


def clock_at(octets: list[int], now: float) -> LayerClock:
    """A video's layers seen twice: counts of zero, then ``octets`` at ``now`` (a layer at 0 never moved)."""
    clock = LayerClock()
    clock.observe([0] * len(octets), now - 1.0)
    clock.observe(octets, now)
    return clock


def test_a_layer_silent_while_a_lower_one_flows_stalls_after_the_allowance_and_not_before() -> None:
    clock = clock_at([1000, 5000], now=10.0)
    clock.observe([1200, 5000], 10.2)  # the top layer's count stands still; the low one's moves
    assert not clock.stalled(1, 10.2 + 0.1)  # 0.3 s: a skipped frame or two
    clock.observe([1400, 5000], 10.4)
    assert clock.stalled(1, 10.0 + STALL_AFTER)
    assert clock.fallback(1, 10.0 + STALL_AFTER) == 0


def test_a_whole_video_gone_quiet_is_not_a_stalled_layer() -> None:
    """A camera turned off, or an outage: every layer stops, and no copy has anywhere to go."""
    clock = clock_at([1000, 5000], now=10.0)
    clock.observe([1000, 5000], 11.0)
    assert not clock.stalled(1, 11.0)


def test_the_lowest_layer_and_a_layer_never_seen_to_flow_never_stall() -> None:
    clock = clock_at([1000, 0], now=10.0)  # the top layer not started yet (no bitrate for it)
    clock.observe([2000, 0], 11.0)
    assert not clock.stalled(0, 11.0) and not clock.stalled(1, 11.0)


def test_a_stalled_layer_flows_again_as_soon_as_its_bytes_move() -> None:
    clock = clock_at([1000, 5000], now=10.0)
    clock.observe([2000, 5000], 11.0)
    assert clock.stalled(1, 11.0)
    clock.observe([2100, 5600], 11.2)  # the browser turned it on again (with a keyframe)
    assert not clock.stalled(1, 11.2) and clock.flowing(1, 11.2)


def test_the_copies_of_a_stalled_top_layer_go_to_the_highest_lower_layer_still_flowing() -> None:
    clock = clock_at([1000, 3000, 9000], now=10.0)
    clock.observe([2000, 4000, 9000], 11.0)  # the top stopped; the middle and the low flow
    assert clock.stalled(2, 11.0) and clock.fallback(2, 11.0) == 1
    clock.observe([3000, 4000, 9000], 12.0)  # then the middle stopped too
    assert clock.stalled(1, 12.0) and clock.stalled(2, 12.0) and clock.fallback(2, 12.0) == 0


def test_a_video_published_again_with_other_layers_starts_over() -> None:
    clock = clock_at([1000, 5000], now=10.0)
    clock.observe([10, 20, 30], 11.0)
    assert clock.moved_at == [None, None, None]
    assert not any(clock.stalled(index, 11.0) for index in range(3))


def test_a_layer_rests_after_a_stall_and_longer_after_one_soon_after_the_last() -> None:
    clock = clock_at([1000, 5000], now=10.0)
    clock.observe([2000, 5000], 10.4)  # stalled: a rest begins
    assert clock.resting(1, 10.4) and clock.rest[1] == REST_AFTER_STALL
    clock.observe([3000, 6000], 11.0)  # flowing again, but resting
    assert clock.flowing(1, 11.0) and not clock.stalled(1, 11.0) and clock.resting(1, 11.0)
    later = 10.5 + REST_AFTER_STALL
    clock.observe([4000, 7000], later)
    assert not clock.resting(1, later)
    clock.observe([5000, 7000], later + 0.5)  # stalls again within twice the last rest
    assert clock.rest[1] == 2 * REST_AFTER_STALL
    calm = later + 0.5 + 2 * clock.rest[1]
    clock.observe([6000, 8000], calm)
    clock.observe([7000, 8000], calm + 0.5)  # a stall long after: back to the first rest
    assert clock.rest[1] == REST_AFTER_STALL


def test_the_rest_doubles_no_further_than_the_most() -> None:
    clock = clock_at([1000, 5000], now=10.0)
    now, low, top = 10.0, 1000, 5000
    for _ in range(10):
        top += 1000
        clock.observe([low, top], now)
        low += 1000
        now += 0.5
        clock.observe([low, top], now)  # stalled
        now += 0.2
    assert clock.rest[1] == MAX_REST
