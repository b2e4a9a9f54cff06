"""Real aiortc client peers for the media tests: synthetic sources, an answering receiver, recorders.

Nothing here mocks aiortc: clients negotiate with the engine over loopback ICE, DTLS and SRTP.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack, VideoStreamTrack

from server.media.engine import MediaEngine
from signaling.ports import MediaError

WIDTH, HEIGHT = 320, 240


_PATTERN = bytes((i * 2) & 0xFF for i in range(1024))
_CHROMA = bytes([128]) * (WIDTH * HEIGHT // 4)


def pattern_frame(n: int) -> av.VideoFrame:
    """A diagonal gradient that moves by 4 px per frame, built from slices (no numpy needed)."""
    frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
    luma = b"".join(_PATTERN[(r + 4 * n) % 512 : (r + 4 * n) % 512 + WIDTH] for r in range(HEIGHT))
    frame.planes[0].update(luma)
    frame.planes[1].update(_CHROMA)
    frame.planes[2].update(_CHROMA)
    return frame


class PatternVideo(VideoStreamTrack):  # type: ignore[misc]
    """A moving gradient at 320x240: cheap to make, and not trivially compressible to nothing."""

    def __init__(self) -> None:
        super().__init__()
        self._n = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = pattern_frame(self._n)
        self._n += 1
        frame.pts, frame.time_base = pts, time_base
        return frame


def tone(samples: int, rate: int) -> bytes:
    """400 Hz: a whole number of cycles in every 20 ms frame, so frames join without clicks."""
    return array.array("h", (int(12000 * math.sin(2 * math.pi * 400 * i / rate)) for i in range(samples))).tobytes()


class ToneAudio(AudioStreamTrack):  # type: ignore[misc]
    """A 400 Hz tone (loud) or silence, 20 ms frames; aiortc writes its RFC 6464 level when encoding."""

    def __init__(self, loud: bool = True) -> None:
        super().__init__()
        self.loud = loud
        self._tone = b""

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        if self.loud:
            if len(self._tone) != 2 * frame.samples:
                self._tone = tone(frame.samples, frame.sample_rate)
            frame.planes[0].update(self._tone)
        return frame


class PacketVideo(MediaStreamTrack):  # type: ignore[misc]
    """Sends pre-encoded VP8 packets (``av.Packet``): the bytes of every frame are known in advance."""

    kind = "video"

    def __init__(self, packets: list[av.Packet], fps: int = 30) -> None:
        super().__init__()
        self.packets = packets
        self.fps = fps
        self._i = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._i / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        src = self.packets[self._i % len(self.packets)]
        packet = av.Packet(bytes(src))
        packet.pts = self._i * 3000
        packet.time_base = fractions.Fraction(1, 90000)
        self._i += 1
        return packet


def encode_vp8(frames: int = 60, keyframe_every: int = 30) -> list[av.Packet]:
    """Encode a short moving-pattern clip once; it is then sent in a loop."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, 30)
    codec.bit_rate = 300_000
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    codec.gop_size = keyframe_every
    packets: list[av.Packet] = []
    for i in range(frames):
        frame = pattern_frame(i)
        frame.pts = i
        packets.extend(codec.encode(frame))
    packets.extend(codec.encode(None))
    return packets


def mid_to_stream(sdp: str) -> dict[str, str]:
    """Map each m-line's mid to its msid stream id, as a browser client would."""
    result: dict[str, str] = {}
    for section in sdp.split("\r\nm=")[1:]:
        mid = re.search(r"a=mid:(\S+)", section)
        msid = re.search(r"a=msid:(\S+)", section)
        if mid and msid:
            result[mid.group(1)] = msid.group(1)
    return result


def ice_ufrag(sdp: str) -> str | None:
    """An offer's ICE username fragment: a new one means a new connection, not a renegotiation."""
    found = re.search(r"a=ice-ufrag:(\S+)", sdp)
    return found.group(1) if found else None


@dataclass
class Collect:
    """A consumer of a tapped receiver that keeps what it is handed (for the receive path's tests)."""

    def __init__(self) -> None:
        self.packets: list[tuple[bytes, int, int, int, int]] = []
        self.unrepairable = 0
        self.unrepairable_why: list[str] = []  # why each gap was beyond repair

    def on_rtp(self, payload: bytes, seq: int, timestamp: int, marker: int, level: int) -> None:
        self.packets.append((payload, seq, timestamp, marker, level))

    def on_ssrc(self, ssrc: int) -> None:
        pass

    def on_unrepairable(self, why: str) -> None:
        self.unrepairable += 1
        self.unrepairable_why.append(why)

    def downstream_loss(self, now: float) -> int:
        return 0

    def on_upstream_loss(self, fraction: float) -> None:
        pass


class Received:
    """What one client got from one remote stream of one kind."""

    frames: int = 0
    first_at: float | None = None
    last_at: float | None = None


def client_config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


@dataclass
class Client:
    """One participant: publishes through ``publish`` and answers the engine's subscriber offers."""

    engine: MediaEngine
    session_id: str
    participant_id: str
    publisher: RTCPeerConnection | None = None
    subscriber: RTCPeerConnection | None = None
    subscriber_ufrag: str | None = None
    received: dict[tuple[str, str], Received] = field(default_factory=lambda: defaultdict(Received))
    revisions: list[int] = field(default_factory=list)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    streams: dict[str, str] = field(default_factory=dict)
    encoded: dict[tuple[str, str], list[bytes]] = field(default_factory=lambda: defaultdict(list))
    answer_filter: Any = None  # str -> str: what the client changes in its answers' SDP before sending them
    heads: dict[tuple[str, str], list[bytes]] = field(
        default_factory=lambda: defaultdict(list)
    )  # RTP payloads' first bytes

    async def publish(self, *tracks: MediaStreamTrack) -> None:
        self.publisher = RTCPeerConnection(client_config())
        for track in tracks:
            self.publisher.addTrack(track)
        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        answer = await self.engine.publish(self.session_id, self.participant_id, self.publisher.localDescription.sdp)
        await self.publisher.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def on_offer(self, sdp: str, revision: int) -> None:
        self.revisions.append(revision)
        self.streams.update(mid_to_stream(sdp))
        if self.subscriber is not None and ice_ufrag(sdp) != self.subscriber_ufrag:
            await self.subscriber.close()  # the server replaced its receiving connection: so do we
            self.subscriber = None
        if self.subscriber is None:
            self.subscriber = RTCPeerConnection(client_config())
            self.subscriber.on("track", self._on_track)
            self.subscriber_ufrag = ice_ufrag(sdp)
        await self.subscriber.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
        answer = self.subscriber.localDescription.sdp
        if self.answer_filter is not None:
            answer = self.answer_filter(answer)
        try:
            await self.engine.answer(self.session_id, self.participant_id, answer, revision)
        except MediaError as exc:
            if exc.code != "not_found":  # an offer that crossed our own departure is harmless
                raise
        self.answered.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        assert self.subscriber is not None
        streams = self.streams
        transceiver = next(t for t in self.subscriber.getTransceivers() if t.receiver.track is track)
        key = (streams.get(transceiver.mid, "?"), track.kind)
        self._capture_encoded(transceiver.receiver, self.encoded[key], self.heads[key])
        task = asyncio.ensure_future(self._consume(track, key))
        self.tasks.add(task)

    @staticmethod
    def _capture_encoded(receiver: Any, sink: list[bytes], heads: list[bytes]) -> None:
        """Test-only hook: record each reassembled (still encoded) frame before the client decodes it,
        and the first bytes of each RTP payload as it arrives (VP8 descriptor and frame tag)."""
        buffer = receiver._RTCRtpReceiver__jitter_buffer
        add = buffer.add

        def recording_add(packet: Any) -> Any:
            heads.append(packet.payload[:16])
            pli, frame = add(packet)
            if frame is not None:
                sink.append(frame.data)
            return pli, frame

        buffer.add = recording_add

    async def _consume(self, track: MediaStreamTrack, key: tuple[str, str]) -> None:
        record = self.received[key]
        try:
            while True:
                await track.recv()
                now = time.monotonic()
                record.frames += 1
                record.first_at = record.first_at or now
                record.last_at = now
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for pc in (self.publisher, self.subscriber):
            if pc is not None:
                await pc.close()


@dataclass
class Recorder:
    """``MediaEvents`` for tests: routes offers to clients (as a task, like a socket would) and logs."""

    clients: dict[str, Client] = field(default_factory=dict)
    speaking_events: list[tuple[str, dict[str, float], str | None]] = field(default_factory=list)
    lost: list[tuple[str, str, str]] = field(default_factory=list)
    paused: list[tuple[str, list[str], bool]] = field(default_factory=list)  # (subscriber, paused, audio only)
    layers: list[tuple[str, list[str]]] = field(default_factory=list)  # (publisher, RTP stream ids to send)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def send_offer(self, session_id: str, participant_id: str, sdp: str, revision: int) -> None:
        client = self.clients.get(participant_id)
        if client is not None:
            task = asyncio.ensure_future(client.on_offer(sdp, revision))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def speaking(self, session_id: str, levels: dict[str, float], active: str | None) -> None:
        self.speaking_events.append((session_id, levels, active))

    async def connection_lost(self, session_id: str, participant_id: str, leg: str) -> None:
        self.lost.append((session_id, participant_id, leg))

    async def video_paused(self, session_id: str, participant_id: str, paused: list[str], audio_only: bool) -> None:
        self.paused.append((participant_id, list(paused), audio_only))

    async def video_layers(self, session_id: str, participant_id: str, rids: list[str]) -> None:
        self.layers.append((participant_id, list(rids)))


def record_handed(obj: Any, method: str) -> list[Any]:
    """Wrap an async method on this instance: keep what each call is handed first, then call it as usual."""
    handed: list[Any] = []
    original = getattr(obj, method)

    async def recording(first: Any, *rest: Any, **named: Any) -> None:
        handed.append(first)
        await original(first, *rest, **named)

    setattr(obj, method, recording)
    return handed


async def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> float:
    """Poll until ``predicate()`` is true; returns the seconds it took, fails the test on timeout."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
    return time.monotonic() - start
