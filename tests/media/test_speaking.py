"""Speaking detection from RFC 6464 levels in publishers' RTP header extensions (no decoding)."""

from __future__ import annotations

import asyncio

import pytest

from server.media.levels import SpeakingMeter, level_of
from tests.media.clients import ToneAudio, wait_for
from tests.media.conftest import SESSION, Room

pytestmark = [pytest.mark.media, pytest.mark.slow]  # real aiortc peers on loopback


async def test_speaking_names_the_participant_sending_loud_audio(room: Room) -> None:
    await room.policy({"loud", "quiet"})
    loud, quiet = room.client("loud"), room.client("quiet")
    await loud.publish(ToneAudio(loud=True))
    await quiet.publish(ToneAudio(loud=False))
    events = room.events.speaking_events
    await wait_for(lambda: any(active == "loud" for _, _, active in events), timeout=5)
    room.engine.take_spoke_seconds(SESSION)
    start = len(events)
    await asyncio.sleep(2.0)
    window = events[start:]
    assert len(window) <= 11, f"{len(window)} speaking events in 2 s: more than 5 per second"
    assert all(active == "loud" for _, _, active in window)
    assert all(levels["loud"] > 0.5 and levels.get("quiet", 0.0) == 0.0 for _, levels, _ in window)
    spoke = room.engine.take_spoke_seconds(SESSION)
    assert 1.5 <= spoke["loud"] <= 2.5
    assert spoke.get("quiet", 0.0) == 0.0
    assert room.engine.take_spoke_seconds(SESSION).get("loud", 0.0) < 0.3  # taken means reset


def test_meter_counts_only_loud_packets_as_speech() -> None:
    meter = SpeakingMeter()
    for i in range(50):
        meter.observe("a", 20, i * 960)  # -20 dBov, 20 ms packets
        meter.observe("b", 127, i * 960)  # silence
    levels, active = meter.flush() or ({}, None)
    assert active == "a" and levels["a"] == round(level_of(20), 2) and levels["b"] == 0.0
    assert meter.take_spoke_seconds() == pytest.approx({"a": 49 * 0.02})
    assert meter.flush() is not None  # levels drop back to zero once: the UI must see that
    assert meter.flush() is None
