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

from server.media.forwarder import Source
from server.media.sink import AUDIO_SWITCH_STEP, LAYER_SWITCH_STEP
from server.media.vp8 import read_indexes
from tests.media.test_outlet import DELTA, KEYFRAME, MID, Pair

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


def vp8(picture: int, tl0: int, keyidx: int, keyframe: bool, wide: bool = True) -> bytes:
    """A frame's first packet as libwebrtc writes it with temporal layers: X; I, L, T, K; the PictureID
    in the form asked; TL0PICIDX; TID 0, Y, KEYIDX; then the VP8 payload header and data."""
    picture_id = bytes([0x80 | picture >> 8, picture & 0xFF]) if wide else bytes([picture])
    header = bytes([0x10 if keyframe else 0x11, 0x02, 0x00, 0x9D, 0x01, 0x2A])  # P bit 0: a keyframe
    return bytes([0x90, 0xF0]) + picture_id + bytes([tl0 & 0xFF, 0x20 | keyidx]) + header + b"\x44" * 100


def descriptors(pair: Pair, packets: list[bytes]) -> list[tuple[int, int, int] | None]:
    """The running indexes each packet carried to the subscriber."""
    return [read_indexes(plain[12 + len(MID) :]) for plain in pair.plain(packets)]


def test_a_switch_continues_the_vp8_indexes_on_both_paths(pairs: list[Pair]) -> None:
    """Each layer numbers its pictures, base pictures and keyframes from its own start; the subscriber
    sees one run of each, and the high layer's 7-bit PictureID, too small for the run's ids, widens."""
    pair = Pair("video", seed=21)
    pairs.append(pair)
    low = [(vp8(0x1234 + n, 250 + n, 30, n == 0), 1000 + n, 50_000 + 3000 * n) for n in range(8)]
    high = [(vp8(120 + n, 9 + n, 3, n == 0, wide=False), 7000 + n, 900_000 + 3000 * n) for n in range(4)]
    again = [(vp8(0x1240 + n, 2 + n, 31, n == 0), 1100 + n, 80_000 + 3000 * n) for n in range(3)]
    for payload, seq, timestamp in low[:5]:
        assert pair.forward(payload, seq, timestamp, 1) == (True, True)
    for sink in pair.sinks:
        sink.switch(high[0][2])
    for payload, seq, timestamp in high:
        assert pair.forward(payload, seq, timestamp, 1) == (True, True)
    for sink in pair.sinks:
        sink.switch(again[0][2])
    for payload, seq, timestamp in again:
        assert pair.forward(payload, seq, timestamp, 1) == (True, True)
    python, compiled = pair.arrived()
    assert python == compiled and len(compiled) == 12
    seen = descriptors(pair, compiled)
    assert seen == [((0x1234 + n) & 0x7FFF, (250 + n) & 0xFF, 30 if n < 5 else (31 if n < 9 else 0)) for n in range(12)]
    assert all(len(plain) == len(pair.plain(compiled)[0]) for plain in pair.plain(compiled))  # the 7-bit ids widened


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


async def test_a_publishers_next_publication_takes_over_its_subscribers_copies_on_both_paths(
    pairs: list[Pair],
) -> None:
    """A member who reconnects publishes anew (new SSRCs, sequence numbers, timestamp bases): each
    subscriber's copy moves to the new publication (``Source.take_over``) with its SSRC, sequence and
    timeline continued, audio at the next packet, video at the first keyframe, so the subscriber's
    m-line and tile carry on without a renegotiation."""
    audio, video = Pair("audio", seed=21), Pair("video", seed=22)
    pairs += [audio, video]

    async def pli(ssrc: int) -> None:
        return None

    old_audio, old_video = Source("p", "audio", pli), Source("p", "video", pli)
    for pair, source in ((audio, old_audio), (video, old_video)):
        for sink in pair.sinks:
            source.add_sink(sink)
    old_audio.on_rtp(b"\x01" * 60, 100, 48_000, 1, -1)
    old_audio.on_rtp(b"\x01" * 60, 101, 48_960, 0, -1)
    old_video.on_rtp(KEYFRAME, 10, 1000, 1, -1)
    await old_audio.close()  # the old connection is gone
    await old_video.close()
    assert all(sink.source is None for pair in (audio, video) for sink in pair.sinks)  # it holds nothing alive
    new_audio, new_video = Source("p", "audio", pli), Source("p", "video", pli)
    new_video.on_ssrc(HIGH_SSRC)
    for pair, source in ((audio, new_audio), (video, new_video)):
        for sink in pair.sinks:
            source.take_over(sink)
    new_audio.on_rtp(b"\x02" * 60, 9000, 700_000, 1, -1)  # any audio packet: taken at once
    new_audio.on_rtp(b"\x02" * 60, 9001, 700_960, 0, -1)
    new_video.on_rtp(DELTA, 4000, 500_000, 1, -1)  # a delta of the new publication waits
    new_video.on_rtp(KEYFRAME, 4001, 503_000, 1, -1)
    new_video.on_rtp(DELTA, 4002, 506_000, 1, -1)
    for pair, sent, step in ((audio, 4, AUDIO_SWITCH_STEP), (video, 3, LAYER_SWITCH_STEP)):
        python, compiled = pair.arrived()
        assert python == compiled and len(compiled) == sent
        out = headers(compiled)
        assert all((b[0] - a[0]) & 0xFFFF == 1 for a, b in itertools.pairwise(out)), "no sequence gap"
        assert all((b[1] - a[1]) & 0xFFFFFFFF == step for a, b in itertools.pairwise(out)), "one timeline"
        assert len({ssrc for _, _, ssrc in out}) == 1
    assert all(sink.source is new_audio for sink in audio.sinks) and all(s.source is new_video for s in video.sinks)
    await new_audio.close()
    await new_video.close()
