"""The selective forwarding engine: publishers' RTP payloads to subscribers, never decoded.

A ``Source`` is one published track. Audio is forwarded packet by packet; video is reassembled only
far enough to know frame boundaries and keyframes, and released on the RTP marker bit (aiortc's jitter
buffer would hold each frame until the next one starts, +33 ms). Payloads are forwarded untouched,
VP8 payload descriptor included, so a subscriber reassembles exactly the publisher's encoded frame.

A ``Sink`` is one subscriber's copy of one track. Its queue is the UDP transport's write buffer,
bounded by ``MAX_BACKLOG``: a subscriber past it drops frames and waits for a keyframe, like a new one.
Sending is synchronous (no task per subscriber): a per-frame task wake-up would cost more CPU than the
packet itself.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from aiortc.rtp import RtpPacket

from server.media.seam import LeanSender

MAX_BACKLOG = 256 * 1024  # bytes waiting in a subscriber's socket buffer before it counts as lagging
PLI_INTERVAL = 0.5  # at most one keyframe request upstream per publisher track per interval

LevelObserver = Callable[[str, int, int], None]


def vp8_descriptor_size(payload: bytes) -> int:
    """Length of the VP8 payload descriptor (RFC 7741 section 4.2) at the start of an RTP payload."""
    size = 1
    if payload[0] & 0x80:
        ext = payload[1]
        size = 2
        if ext & 0x80:
            size += 2 if payload[size] & 0x80 else 1
        if ext & 0x40:
            size += 1
        if ext & 0x30:
            size += 1
    return size


def vp8_starts_frame(payload: bytes) -> bool:
    """S bit set and partition index 0: the first packet of a frame."""
    return bool(payload) and payload[0] & 0x10 != 0 and payload[0] & 0x07 == 0


def vp8_is_keyframe(first_payload: bytes) -> bool:
    """Bit 0 of the VP8 payload header (first byte after the descriptor) is 0 on keyframes."""
    offset = vp8_descriptor_size(first_payload)
    return len(first_payload) > offset and first_payload[offset] & 0x01 == 0


class Sink:
    """One subscriber's copy of one publisher track, written through a ``LeanSender``."""

    def __init__(self, subscriber_id: str, kind: str, lean: LeanSender) -> None:
        self.subscriber_id = subscriber_id
        self.kind = kind
        self.lean = lean
        self.waiting_keyframe = kind == "video"
        self.frames_dropped = 0
        self._ts_offset = random.getrandbits(32)

    def send_audio(self, packet: RtpPacket) -> None:
        lean = self.lean
        if not lean.writable() or lean.backlog() > MAX_BACKLOG:
            return
        lean.send(packet.payload, packet.marker, (packet.timestamp + self._ts_offset) & 0xFFFFFFFF)

    def send_frame(self, packets: list[RtpPacket], keyframe: bool) -> bool:
        """Forward a whole frame; returns False when this sink needs a keyframe first."""
        lean = self.lean
        if not lean.writable():
            self.waiting_keyframe = True
            return True  # not connected yet: asking now would waste the keyframe
        if lean.backlog() > MAX_BACKLOG:
            self.waiting_keyframe = True
            self.frames_dropped += 1
            return False
        if self.waiting_keyframe:
            if not keyframe:
                return False
            self.waiting_keyframe = False
        ts = (packets[0].timestamp + self._ts_offset) & 0xFFFFFFFF
        for packet in packets:
            lean.send(packet.payload, packet.marker, ts)
        return True


class Source:
    """One published track: fans each packet (audio) or marker-complete frame (video) out to sinks."""

    def __init__(
        self,
        publisher_id: str,
        kind: str,
        request_pli: Callable[[int], Awaitable[None]],
        on_level: LevelObserver | None = None,
    ) -> None:
        self.publisher_id = publisher_id
        self.kind = kind
        self.sinks: list[Sink] = []
        self.audible = True
        self.frames_forwarded = 0
        self._request_pli = request_pli
        self._on_level = on_level
        self._ssrc: int | None = None
        self._last_pli = 0.0
        self._pli_task: asyncio.Future[None] | None = None
        self._frame_ts: int | None = None
        self._packets: dict[int, RtpPacket] = {}
        self._start_seq: int | None = None
        self._end_seq: int | None = None

    def on_packet(self, packet: RtpPacket) -> None:
        """Entry point from the receiver tap, once per incoming (de-RTXed) RTP packet."""
        self._ssrc = packet.ssrc
        if self.kind == "audio":
            self._on_audio(packet)
        else:
            self._on_video(packet)

    def _on_audio(self, packet: RtpPacket) -> None:
        if not self.audible:
            return  # strict floor / forced mute: no packets at all, not silence
        level = packet.extensions.audio_level
        if level is not None and self._on_level is not None:
            self._on_level(self.publisher_id, level[1], packet.timestamp)
        for sink in self.sinks:
            sink.send_audio(packet)

    def _on_video(self, packet: RtpPacket) -> None:
        if packet.timestamp != self._frame_ts:
            if self._packets and (packet.timestamp - (self._frame_ts or 0)) & 0x80000000:
                return  # a straggler from a frame we already gave up on
            if self._packets:
                self._lost_frame()
            self._frame_ts = packet.timestamp
            self._packets = {}
            self._start_seq = self._end_seq = None
        seq = packet.sequence_number
        self._packets[seq] = packet
        if vp8_starts_frame(packet.payload):
            self._start_seq = seq
        if packet.marker:
            self._end_seq = seq
        if self._start_seq is not None and self._end_seq is not None:
            count = ((self._end_seq - self._start_seq) & 0xFFFF) + 1
            if count == len(self._packets):
                self._release(count)

    def _release(self, count: int) -> None:
        start = self._start_seq or 0
        packets = [self._packets[(start + i) & 0xFFFF] for i in range(count)]
        self._packets = {}
        self._start_seq = self._end_seq = None
        keyframe = vp8_is_keyframe(packets[0].payload)
        self.frames_forwarded += 1
        want = False
        for sink in self.sinks:
            if not sink.send_frame(packets, keyframe):
                want = True
        if want:
            self.request_keyframe()

    def _lost_frame(self) -> None:
        """A frame never completed: every subscriber's decoder would break, so resync on a keyframe."""
        for sink in self.sinks:
            sink.waiting_keyframe = True
        if self.sinks:
            self.request_keyframe()

    def request_keyframe(self) -> None:
        """Throttled PLI to the publisher, for new, lagging or recovering subscribers (and their PLIs)."""
        now = time.monotonic()
        if self.kind != "video" or self._ssrc is None or now - self._last_pli < PLI_INTERVAL:
            return
        if self._pli_task is not None and not self._pli_task.done():
            return
        self._last_pli = now
        self._pli_task = asyncio.ensure_future(self._request_pli(self._ssrc))

    def add_sink(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)

    async def close(self) -> None:
        """Drop every sink and wait for an in-flight PLI so nothing outlives the source."""
        self.sinks.clear()
        if self._pli_task is not None and not self._pli_task.done():
            self._pli_task.cancel()
            await asyncio.gather(self._pli_task, return_exceptions=True)
        self._pli_task = None
