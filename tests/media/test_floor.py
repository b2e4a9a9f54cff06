"""Floor enforcement on media: audio that may not be heard is not forwarded at all; video keeps flowing."""

from __future__ import annotations

import asyncio

import pytest

from rooms.model import stream_id_for
from tests.media.clients import PatternVideo, ToneAudio, wait_for
from tests.media.conftest import Room

pytestmark = [pytest.mark.media, pytest.mark.slow]  # real aiortc peers on loopback


async def test_strict_floor_stops_a_members_audio_and_resumes_it_when_audible(room: Room) -> None:
    await room.policy({"a", "b", "c"})
    a, b, c = room.client("a"), room.client("b"), room.client("c")
    await a.publish(ToneAudio())
    await b.publish(ToneAudio())
    await c.publish(ToneAudio())
    a_at_c, b_at_c = c.received[(stream_id_for("a"), "audio")], c.received[(stream_id_for("b"), "audio")]
    await wait_for(lambda: a_at_c.frames >= 10 and b_at_c.frames >= 10)

    await room.policy({"a", "b", "c"}, audible={"a", "c"})  # strict: b does not hold the floor
    await asyncio.sleep(0.3)  # packets already on the wire may still land
    b_before, a_before = b_at_c.frames, a_at_c.frames
    await asyncio.sleep(1.0)
    assert b_at_c.frames == b_before, "b's audio kept flowing under the strict floor"
    assert a_at_c.frames >= a_before + 25, "the floor holder's audio must keep flowing"

    await room.policy({"a", "b", "c"})  # the floor moves to b
    await wait_for(lambda: b_at_c.frames >= b_before + 10, timeout=3)


async def test_force_muted_members_audio_never_arrives_but_video_does(room: Room) -> None:
    await room.policy({"m", "x"}, audible={"x"})
    m, x = room.client("m"), room.client("x")
    await m.publish(ToneAudio(), PatternVideo())
    await x.publish(ToneAudio())
    await wait_for(lambda: x.received[(stream_id_for("m"), "video")].frames >= 30, timeout=10)
    await wait_for(lambda: m.received[(stream_id_for("x"), "audio")].frames >= 30)
    assert x.received[(stream_id_for("m"), "audio")].frames == 0
    stats = await x.subscriber.getStats()
    inbound = [s for s in stats.values() if s.type == "inbound-rtp" and s.kind == "audio"]
    assert all(s.packetsReceived == 0 for s in inbound), "muted audio must mean no packets, not silence"
