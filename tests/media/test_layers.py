"""Simulcast layers in the forwarder: a subscriber's copy moves from one layer of a video to another
at that layer's keyframe, and sees one continuous stream (its SSRC, sequence numbers, timeline).

Both paths (``Sink.forward`` and the compiled ``Outlet``) are driven with the same packets over real
UDP sockets with real SRTP (``test_outlet.Pair``) and must put the same bytes on the wire.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
from collections.abc import Iterator

import pytest

from server.media.forwarder import LAYER_SWITCH_STEP, Source
from tests.media.test_outlet import DELTA, KEYFRAME, Pair

LOW_SSRC, HIGH_SSRC = 0x1111, 0x2222


@pytest.fixture
def pairs() -> Iterator[list[Pair]]:
    made: list[Pair] = []
    yield made
    for pair in made:
        pair.close()


def headers(packets: list[bytes]) -> list[tuple[int, int, int]]:
    """(sequence number, timestamp, SSRC) of each packet as it went out."""
    return [struct.unpack_from("!HII", packet, 2) for packet in packets]


def test_a_switch_continues_the_sequence_and_the_timeline_on_both_paths(pairs: list[Pair]) -> None:
    pair = Pair("video", seed=5)
    pairs.append(pair)
    for n, payload in enumerate([KEYFRAME, DELTA, DELTA]):  # the low layer: its own numbers and base
        assert pair.forward(payload, 1000 + n, 50_000 + 3000 * n, 1) == (True, True)
    for sink in pair.sinks:
        sink.switch(900_000)  # the high layer's keyframe will carry this timestamp
    assert pair.forward(DELTA, 7000, 897_000, 1) == (False, False)  # a delta of the new layer waits
    assert pair.forward(KEYFRAME, 7001, 900_000, 1) == (True, True)
    assert pair.forward(DELTA, 7002, 903_000, 1) == (True, True)
    python, compiled = pair.arrived()
    assert python == compiled and len(compiled) == 5
    out = headers(compiled)
    assert all((b[0] - a[0]) & 0xFFFF == 1 for a, b in itertools.pairwise(out)), "no sequence gap at the switch"
    assert all((b[1] - a[1]) & 0xFFFFFFFF == LAYER_SWITCH_STEP for a, b in itertools.pairwise(out))
    assert len({ssrc for _, _, ssrc in out}) == 1


async def test_a_sink_moves_to_another_layer_at_its_keyframe_and_keeps_its_layer_until_then(
    pairs: list[Pair],
) -> None:
    pair = Pair("video", seed=9)
    pairs.append(pair)
    asked: list[int] = []

    async def pli(ssrc: int) -> None:
        asked.append(ssrc)

    low, high = Source("p", "video", pli), Source("p", "video", pli)
    low.layers = high.layers = [low, high]
    low.on_ssrc(LOW_SSRC)
    high.on_ssrc(HIGH_SSRC)
    for sink in pair.sinks:
        low.add_sink(sink)
    low.on_rtp(KEYFRAME, 10, 1000, 1, -1)
    low.on_rtp(DELTA, 11, 4000, 1, -1)
    for sink in pair.sinks:
        high.join(sink)
    assert all(sink.source is low and sink.joining is high for sink in pair.sinks)
    high.on_rtp(DELTA, 500, 77_000, 1, -1)  # not a keyframe: nobody moves
    low.on_rtp(DELTA, 12, 7000, 1, -1)  # ... and the low layer still reaches them: no freeze
    high.on_rtp(KEYFRAME, 501, 80_000, 1, -1)  # they move here, with this packet
    low.on_rtp(DELTA, 13, 10_000, 1, -1)  # the old layer no longer reaches them
    high.on_rtp(DELTA, 502, 83_000, 1, -1)
    assert all(sink.source is high and sink.joining is None for sink in pair.sinks)
    assert low.sinks == [] and len(high.sinks) == 2
    python, compiled = pair.arrived()
    assert python == compiled and len(compiled) == 5
    out = headers(compiled)
    assert all((b[0] - a[0]) & 0xFFFF == 1 for a, b in itertools.pairwise(out))
    await asyncio.sleep(0)  # the PLI is sent by a task
    await low.close()
    await high.close()
    assert HIGH_SSRC in asked and LOW_SSRC not in asked  # the keyframe was asked of the new layer


async def test_a_subscribers_requests_and_its_gate_follow_the_layer_it_receives(pairs: list[Pair]) -> None:
    pair = Pair("video", seed=13)
    pairs.append(pair)
    asked: list[int] = []
    repairs: dict[int, list[int]] = {LOW_SSRC: [], HIGH_SSRC: []}

    async def pli(ssrc: int) -> None:
        asked.append(ssrc)

    low = Source("p", "video", pli, repair=repairs[LOW_SSRC].extend)
    high = Source("p", "video", pli, repair=repairs[HIGH_SSRC].extend)
    low.layers = high.layers = [low, high]
    low.on_ssrc(LOW_SSRC)
    high.on_ssrc(HIGH_SSRC)
    sink = pair.sinks[1]
    low.add_sink(sink)
    sink.request_keyframe()  # the subscriber's PLI, relayed to the layer it receives
    sink.repair_upstream([7])
    high.join(sink)
    high.on_rtp(KEYFRAME, 501, 80_000, 1, -1)
    assert sink.source is high
    sink.repair_upstream([502])
    await asyncio.sleep(0)  # the PLIs are sent by tasks
    assert asked == [LOW_SSRC, HIGH_SSRC]
    assert repairs == {LOW_SSRC: [7], HIGH_SSRC: [502]}
    low.gate(sink, False)  # the engine gates through the video's first layer: it reaches the sink's layer
    assert not sink.open and [s for s in high.sinks if s.open] == []
    low.remove_sink(sink)  # likewise when the subscription ends
    assert high.sinks == [] and sink.source is None
    await low.close()
    await high.close()
