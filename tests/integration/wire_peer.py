"""A participant's media over the wire protocol: aiortc peers negotiated through Socket.IO events."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from tests.harness import Client
from tests.media.clients import PatternVideo, ToneAudio, client_config, mid_to_stream


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
        if self.wire.received["rtc.offer"]:  # an offer that arrived before this handler existed
            self.tasks.add(asyncio.ensure_future(self._answer(self.wire.received["rtc.offer"][-1])))

    async def publish(self) -> None:
        self.publisher = RTCPeerConnection(client_config())
        self.publisher.addTrack(ToneAudio())
        self.publisher.addTrack(PatternVideo())
        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        reply = await self.wire.ask("rtc.publish", {"sdp": self.publisher.localDescription.sdp, "type": "offer"})
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
        reply = await self.wire.ask(
            "rtc.answer", {"sdp": self.subscriber.localDescription.sdp, "type": "answer", "revision": data["revision"]}
        )
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
