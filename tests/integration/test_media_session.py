"""Media through the whole stack: Socket.IO signaling (rtc.publish / rtc.offer / rtc.answer) and the
forwarding engine, with real aiortc peers as participants and the floor enforced by session commands."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from server.keys import MEDIA
from tests.harness import Client, Harness, running_server
from tests.media.clients import PatternVideo, ToneAudio, client_config, mid_to_stream


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Harness]:
    async with running_server(media=True, allow_loopback=True) as harness:
        yield harness


@dataclass
class Peer:
    """A participant's two media connections, negotiated over the wire protocol."""

    wire: Client
    publisher: RTCPeerConnection | None = None
    subscriber: RTCPeerConnection | None = None
    streams: dict[str, str] = field(default_factory=dict)
    frames: dict[tuple[str, str], int] = field(default_factory=dict)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.wire.sio.on("rtc.offer", self._offer)

    async def publish(self) -> None:
        self.publisher = RTCPeerConnection(client_config())
        self.publisher.addTrack(ToneAudio())
        self.publisher.addTrack(PatternVideo())
        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        reply = await self.wire.ask("rtc.publish", {"sdp": self.publisher.localDescription.sdp,
                                                    "type": "offer"})
        assert reply["ok"], reply
        await self.publisher.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))

    async def _offer(self, data: dict[str, Any]) -> None:
        task = asyncio.ensure_future(self._answer(data))
        self.tasks.add(task)

    async def _answer(self, data: dict[str, Any]) -> None:
        self.streams.update(mid_to_stream(data["sdp"]))
        if self.subscriber is None:
            self.subscriber = RTCPeerConnection(client_config())
            self.subscriber.on("track", self._track)
        await self.subscriber.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
        await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
        reply = await self.wire.ask("rtc.answer", {"sdp": self.subscriber.localDescription.sdp,
                                                   "type": "answer", "revision": data["revision"]})
        if not reply["ok"]:
            self.errors.append(reply)

    def _track(self, track: MediaStreamTrack) -> None:
        assert self.subscriber is not None
        transceiver = next(t for t in self.subscriber.getTransceivers() if t.receiver.track is track)
        key = (self.streams.get(transceiver.mid or "", "?"), track.kind)
        self.tasks.add(asyncio.ensure_future(self._count(track, key)))

    async def _count(self, track: MediaStreamTrack, key: tuple[str, str]) -> None:
        try:
            while True:
                await track.recv()
                self.frames[key] = self.frames.get(key, 0) + 1
        except (MediaStreamError, asyncio.CancelledError):
            pass

    def got(self, stream_id: str, kind: str) -> int:
        return self.frames.get((stream_id, kind), 0)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for pc in (self.publisher, self.subscriber):
            if pc is not None:
                await pc.close()


async def until(predicate: Any, timeout: float = 15.0) -> float:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "condition not met in time"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_three_participants_see_each_other_and_strict_floor_gates_audio(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False)
    facilitator = await server.connect(session["facilitator_token"])
    members = [await server.join(session["id"], name) for name in ("Ana", "Ben")]
    for member in members:
        assert (await facilitator.ask("admit", {"id": member.id}))["ok"]
    peers = [Peer(c) for c in (facilitator, *members)]
    try:
        for peer in peers:
            await peer.publish()
        state = await facilitator.state(lambda s: all(p["stream_ids"] for p in s["participants"]))
        streams = {p["id"]: p["stream_ids"][0] for p in state["participants"]}
        for peer in peers:
            others = [streams[p.wire.id] for p in peers if p is not peer]
            await until(lambda peer=peer, others=others: all(
                peer.got(s, "video") > 5 and peer.got(s, "audio") > 5 for s in others))

        ana, ben = peers[1], peers[2]
        phases = [{"name": "skills", "minutes": 10, "floor_mode": "strict"}]
        assert (await facilitator.ask("agenda.set", {"phases": phases}))["ok"]
        await asyncio.sleep(0.5)
        heard = ben.got(streams[ana.wire.id], "audio")
        await asyncio.sleep(0.6)
        stopped = ben.got(streams[ana.wire.id], "audio")
        await asyncio.sleep(0.6)
        assert ben.got(streams[ana.wire.id], "audio") == stopped >= heard  # Ana is not heard
        assert ben.got(streams[ana.wire.id], "video") > 0  # video keeps flowing
        assert (await facilitator.ask("floor.grant", {"id": ana.wire.id}))["ok"]
        await until(lambda: ben.got(streams[ana.wire.id], "audio") > stopped + 10, timeout=5)

        engine: Any = server.app[MEDIA]
        open_before = [pc for pc in engine.connections() if pc.connectionState != "closed"]
        assert len(open_before) == 6  # a publisher and a subscriber connection each
        assert (await facilitator.ask("remove", {"id": ben.wire.id}))["ok"]
        await until(lambda: len([pc for pc in engine.connections() if pc.connectionState != "closed"]) == 4,
                    timeout=5)
        assert all(p.errors == [] for p in peers)
    finally:
        for peer in peers:
            await peer.close()
