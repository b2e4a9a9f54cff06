"""End-to-end forwarding between real aiortc peers: who receives what, and that it decodes."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from rooms.model import stream_id_for
from server.media import sink
from signaling.ports import MediaError
from tests.media.clients import PacketVideo, PatternVideo, ToneAudio, encode_vp8, wait_for
from tests.media.conftest import Room

pytestmark = [pytest.mark.media, pytest.mark.slow]  # real aiortc peers on loopback


async def test_three_publishers_each_receive_the_other_two_and_decode(
    room: Room, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    ids = ["a", "b", "c"]
    await room.policy(set(ids))
    clients = [room.client(pid) for pid in ids]
    for client in clients:
        await client.publish(ToneAudio(), PatternVideo())

    def everyone_gets_enough() -> bool:
        return all(
            client.received[(stream_id_for(other), kind)].frames >= 20
            for client in clients
            for other in ids
            if other != client.participant_id
            for kind in ("audio", "video")
        )

    await wait_for(everyone_gets_enough, timeout=15)
    for client in clients:
        own = (stream_id_for(client.participant_id), "video")
        assert client.received[own].frames == 0
    assert "failed to decode" not in caplog.text


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled-outlets", "python-path"])
async def test_forwarded_video_frames_are_the_publishers_bytes(
    room: Room, compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink, "COMPILED", compiled)
    packets = encode_vp8(frames=60, keyframe_every=15)
    sent = {bytes(p) for p in packets}
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(PacketVideo(packets))
    received = b.encoded[(stream_id_for("a"), "video")]
    await wait_for(lambda: len(received) >= 30, timeout=10)
    assert all(frame in sent for frame in received), "a forwarded frame differs from what was sent"
    assert len(set(received)) >= 20
    sources = [source for peer in room.engine._rooms["s1"].peers.values() for source in peer.sources.values()]
    sinks = [sink for source in sources for sink in source.sinks]
    assert sinks and all((sink.outlet is not None) == compiled for sink in sinks)


async def test_late_joiner_sees_video_within_a_second(room: Room) -> None:
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(ToneAudio(), PatternVideo())
    await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= 30, timeout=10)
    await asyncio.sleep(1.0)  # aiortc's encoder now only makes keyframes on request
    c = room.client("c")
    joined = time.monotonic()
    await room.policy({"a", "b", "c"})
    await wait_for(lambda: c.received[(stream_id_for("a"), "video")].frames >= 1, timeout=5)
    first = c.received[(stream_id_for("a"), "video")].first_at
    assert first is not None and first - joined < 1.0, f"first video after {first - joined:.2f} s"
    print(f"late joiner first video after {first - joined:.3f} s")


async def test_non_member_cannot_publish_and_is_disconnected_when_dropped(room: Room) -> None:
    await room.policy({"a", "b"})
    a, b, x = room.client("a"), room.client("b"), room.client("x")
    with pytest.raises(MediaError) as refused:
        await x.publish(ToneAudio())
    assert refused.value.code == "conflict"
    await a.publish(ToneAudio())
    await wait_for(lambda: b.received[(stream_id_for("a"), "audio")].frames >= 5)
    connections = list(room.engine.connections())
    await room.policy({"b"})
    assert all(pc.connectionState == "closed" for pc in connections if pc not in room.engine.connections())
    assert len(room.engine.connections()) == 1  # b's receiving connection only


async def test_stale_answer_revision_is_a_conflict(room: Room) -> None:
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(ToneAudio())
    await wait_for(lambda: b.answered.is_set())
    with pytest.raises(MediaError) as stale:
        await room.engine.answer("s1", "b", b.subscriber.localDescription.sdp, b.revisions[-1])
    assert stale.value.code == "conflict"


async def test_publishers_are_told_the_video_bitrate_cap(room: Room) -> None:
    room.engine._video_cap = 300_000
    await room.policy({"a", "b"})
    a = room.client("a")
    room.client("b")
    await a.publish(PatternVideo())
    assert a.publisher is not None
    sender = next(s for s in a.publisher.getSenders() if s.kind == "video")

    def capped() -> bool:
        encoder = sender._RTCRtpSender__encoder  # test-only look at the client's encoder
        return encoder is not None and encoder.target_bitrate == 300_000

    await wait_for(capped, timeout=4)


async def test_changes_during_an_outstanding_offer_wait_for_its_answer(room: Room) -> None:
    held: list[tuple[str, int]] = []
    watcher = room.client("w")

    async def hold(sdp: str, revision: int) -> None:  # w is slow to answer
        held.append((sdp, revision))

    watcher.on_offer = hold  # type: ignore[method-assign]
    await room.policy({"w", "a", "b"})
    await room.client("a").publish(ToneAudio())
    await room.client("b").publish(ToneAudio())
    await asyncio.sleep(0.3)
    assert [revision for _, revision in held] == [1], "a second offer went out before the first was answered"
    assert stream_id_for("b") not in held[0][0]

    del watcher.on_offer  # answer normally from now on
    await watcher.on_offer(*held[0])
    await wait_for(lambda: watcher.revisions == [1, 2])
    await wait_for(lambda: watcher.received[(stream_id_for("b"), "audio")].frames >= 5)
