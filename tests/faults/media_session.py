"""A live session whose participants are real aiortc peers over the wire, and what a media fault test checks.

Each ``tests/faults/test_media_*.py`` test starts a real node in-process (``running_server(media=True)``),
brings a facilitator and members into a live session with audio and video flowing between all of them,
injects one fault, and asserts that the rest of the session goes on:

- every other participant's commands are acknowledged within ``ACK_WITHIN``;
- every stream between the others keeps at least ``KEEP_RATE`` of its rate before the fault over the
  ``RECOVERY`` seconds after it;
- the facilitator can still end the session, and everyone is told.

A stream's rate is measured in media time, not by the clock on the wall: the frames of which a
receiver got RTP packets (what the server delivered; nothing is decoded, these are 2 shared cores)
whose timestamps fall in a window of ``seconds`` of media, over the frames the publisher made in it
(a frame every ``FRAME_STEP`` ticks). On a machine shared with other work the test process itself
stalls for up to a second at times, and a rate over a wall-clock window then measures that stall;
counted by media time, a frame the server forwarded counts even when this process read it late, and
one it lost, or never forwarded, counts as missing. How late media may be is measured where a stall
is the fault (other sessions' acknowledgement times in ``test_media_sdp``).

Publishers send a pre-encoded VP8 clip (no encoding on these 2 cores) and a tone; receivers answer the
server's offers one at a time, in order, and take an offer with a new ICE ufrag for what it is: a new
server connection, answered with a new ``RTCPeerConnection`` (as ``web/rtc.js`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import av
import pytest
import pytest_asyncio
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from rooms.model import stream_id_for
from server.media.vp8 import vp8_descriptor_size, vp8_is_keyframe, vp8_starts_frame
from tests.harness import Client, Harness, running_server
from tests.media.clients import PacketVideo, ToneAudio, client_config, encode_vp8, ice_ufrag, mid_to_stream

ACK_WITHIN = 1.0  # seconds: another participant's command is acknowledged within this, fault or not
RECOVERY = 2.0  # seconds of media after a fault over which the others' media must keep its rate
KEEP_RATE = 0.9  # of each stream's frame rate before the fault
BASELINE = 1.5  # seconds of media measured before a fault
LATE = 10.0  # seconds a measured window's last frames may take to arrive on a busy machine
KINDS = ("audio", "video")
CLOCK = {"audio": 48000, "video": 90000}  # RTP clock rates of Opus and VP8
FRAME_STEP = {"audio": 960, "video": 3000}  # RTP ticks between frames: 20 ms of Opus, the clip at 30 fps

GRACE_SECONDS = 60.0  # a dropped member keeps their seat this long: long enough to come back in a test

StreamKey = tuple[str, str]  # (msid stream id, kind)
Frames = list[tuple[float, int]]  # (arrival, RTP timestamp unwrapped) of each completed frame
Marks = dict[tuple[str, StreamKey], int]  # (receiver name, stream) -> an RTP timestamp it has reached
Rates = dict[tuple[str, StreamKey], float]  # (receiver name, stream) -> share of the frames sent received


@pytest.fixture(scope="module")
def clip() -> Iterator[list[av.Packet]]:
    """The publishers' video: a short VP8 clip encoded once, sent in a loop."""
    yield encode_vp8(frames=60, keyframe_every=30)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Harness]:
    """A real node in-process, media on, loopback candidates (the tests' peers are on this machine)."""
    async with running_server(media=True, allow_loopback=True, grace_seconds=GRACE_SECONDS) as harness:
        yield harness


class Member:
    """One participant's socket and media: publishes, answers offers, timestamps the frames it receives."""

    def __init__(self, wire: Client, name: str, token: str, clip: list[av.Packet]) -> None:
        self.wire = wire
        self.name = name
        self.token = token
        self.clip = clip
        self.publisher: RTCPeerConnection | None = None
        self.subscriber: RTCPeerConnection | None = None
        self.subscriber_ufrag: str | None = None
        self.streams: dict[str, str] = {}  # mid -> msid stream id, for the current subscriber connection
        self.frames: dict[StreamKey, Frames] = defaultdict(list)
        self.keyframes: dict[StreamKey, Frames] = defaultdict(list)  # (arrival, frame width) of each VP8 keyframe
        self.refused: list[dict[str, Any]] = []  # acks of our answers that were not ok
        self.answered = 0
        self._offers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_revision = -1
        wire.sio.on("rtc.offer", self._offer)
        for offer in wire.received["rtc.offer"]:  # offers that came before this handler existed
            self._offers.put_nowait(offer)
        self._spawn(self._answer_offers())

    @property
    def id(self) -> str:
        return self.wire.id

    @property
    def stream(self) -> str:
        return stream_id_for(self.wire.id)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def publish(self) -> None:
        """A new publishing connection (a fresh ICE ufrag): what a client does on start or reload."""
        pc = self.publisher = RTCPeerConnection(client_config())
        pc.addTrack(ToneAudio())
        pc.addTrack(PacketVideo(self.clip))
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self.wire.ask("rtc.publish", {"sdp": pc.localDescription.sdp, "type": "offer"})
        assert reply["ok"], reply
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))

    async def _offer(self, data: dict[str, Any]) -> None:
        self.wire.received["rtc.offer"].append(data)
        self._offers.put_nowait(data)

    async def _answer_offers(self) -> None:
        while True:
            offer = await self._offers.get()
            if offer["revision"] <= self._last_revision:
                continue  # stale: a newer one was answered already
            try:
                await self._answer(offer)
            except Exception as exc:  # a connection closed under us by the test itself
                self.refused.append({"error": repr(exc)})

    async def _answer(self, offer: dict[str, Any]) -> None:
        sdp = offer["sdp"]
        if self.subscriber is not None and ice_ufrag(sdp) != self.subscriber_ufrag:
            await self.subscriber.close()  # the server replaced its receiving connection: so do we
            self.subscriber = None
        if self.subscriber is None:
            pc = self.subscriber = RTCPeerConnection(client_config())
            self.subscriber_ufrag = ice_ufrag(sdp)
            self.streams = {}
            pc.on("track", lambda track, pc=pc: self._track(pc, track))
        self.streams.update(mid_to_stream(sdp))
        pc = self.subscriber
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        self._last_revision = offer["revision"]
        answer = {"sdp": pc.localDescription.sdp, "type": "answer", "revision": offer["revision"]}
        reply = await self.wire.ask("rtc.answer", answer)
        self.answered += 1
        if not reply["ok"]:
            self.refused.append(reply)

    def _track(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        transceiver = next(t for t in pc.getTransceivers() if t.receiver.track is track)
        key = (self.streams.get(transceiver.mid or "", "?"), track.kind)
        self.frames[key] = []  # a new connection's copy of a stream: its timestamps start afresh
        _count_frames(transceiver.receiver, self.frames[key], self.keyframes[key] if track.kind == "video" else None)

    def got(self, stream: str, kind: str, since: float = 0.0) -> int:
        """Frames of ``stream``'s ``kind`` received since ``since`` (a ``time.monotonic()`` reading)."""
        return sum(1 for arrival, _ in self.frames[(stream, kind)] if arrival >= since)

    def newest(self, key: StreamKey) -> int | None:
        """The newest RTP timestamp received on a stream (unwrapped), or None."""
        frames = self.frames[key]
        return max(ts for _, ts in frames[-50:]) if frames else None

    def delivered(self, key: StreamKey, after: int, seconds: float) -> float:
        """The share of a stream's frames with timestamps in ``seconds`` of media after ``after`` received."""
        end = after + int(seconds * CLOCK[key[1]])
        got = len({ts for _, ts in self.frames[key] if after < ts <= end})
        return got * FRAME_STEP[key[1]] / (end - after)

    async def close_publisher(self) -> None:
        """Close the publishing connection: aiortc sends the server a DTLS close_notify."""
        assert self.publisher is not None
        await self.publisher.close()

    async def close_subscriber(self) -> None:
        """Close the receiving connection: aiortc sends the server a DTLS close_notify."""
        assert self.subscriber is not None
        await self.subscriber.close()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pc in (self.publisher, self.subscriber):
            if pc is not None:
                await pc.close()


@dataclass
class LiveSession:
    """A facilitator and members, all admitted, all publishing and receiving each other."""

    server: Harness
    session_id: str
    clip: list[av.Packet]
    everyone: dict[str, Member] = field(default_factory=dict)  # by name; "Facilitator" leads

    @property
    def facilitator(self) -> Member:
        return self.everyone["Facilitator"]

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, server: Harness, names: list[str], clip: list[av.Packet]) -> AsyncIterator[LiveSession]:
        """``start``, and every member's connections closed at the end, whatever happened."""
        live = await cls.start(server, names, clip)
        try:
            yield live
        finally:
            await live.close()

    @classmethod
    async def start(cls, server: Harness, names: list[str], clip: list[av.Packet], **options: Any) -> LiveSession:
        """``options``: more session settings. A browser beside these aiortc peers needs none: they never
        say they take part in e2ee, so under the default ``preferred`` its page is told to go in the clear."""
        session = await server.create_session(requires_agreement=False, **options)
        live = cls(server, session["id"], clip)
        lead = await server.connect(session["facilitator_token"])
        live.everyone["Facilitator"] = Member(lead, "Facilitator", session["facilitator_token"], clip)
        for name in names:
            await live.join(name)
        for member in live.everyone.values():
            await member.publish()
        await live.until_everyone_receives_everyone()
        return live

    async def join(self, name: str) -> Member:
        """Invite, connect and admit a member (not yet publishing)."""
        invite = await self.server.invite(self.session_id, name)
        wire = await self.server.connect(invite["token"])
        reply = await self.facilitator.wire.ask("admit", {"id": wire.id})
        assert reply["ok"], reply
        member = self.everyone[name] = Member(wire, name, invite["token"], self.clip)
        return member

    async def reconnect(self, name: str) -> Member:
        """The member's page again (a reload, a tab reopened): a new socket on the same invite."""
        old = self.everyone[name]
        wire = await self.server.connect(old.token)
        member = self.everyone[name] = Member(wire, name, old.token, self.clip)
        return member

    def others(self, *faulty: str) -> list[Member]:
        return [m for n, m in self.everyone.items() if n not in faulty]

    async def until_everyone_receives_everyone(self, timeout: float = 20.0) -> None:
        def missing() -> list[tuple[str, str, str, int]]:
            return [
                (receiver.name, sender.name, kind, receiver.got(sender.stream, kind))
                for receiver in self.everyone.values()
                for sender in self.everyone.values()
                if sender is not receiver
                for kind in KINDS
                if receiver.got(sender.stream, kind) < 5
            ]

        await until(lambda: not missing(), timeout, missing)

    async def until_receives(self, receiver: Member, sender: Member, timeout: float = 20.0) -> None:
        """``receiver`` gets fresh audio and video frames from ``sender`` (from now on)."""
        now = time.monotonic()
        await until(lambda: all(receiver.got(sender.stream, kind, since=now) >= 5 for kind in KINDS), timeout)

    def mark(self, *faulty: str) -> Marks:
        """Where each stream between the others is now: its newest RTP timestamp at each receiver."""
        marks = {}
        for receiver in self.others(*faulty):
            for sender in self.others(*faulty):
                for kind in KINDS:
                    newest = receiver.newest((sender.stream, kind)) if sender is not receiver else None
                    if newest is not None:
                        marks[(receiver.name, (sender.stream, kind))] = newest
        return marks

    async def rates(self, marks: Marks, seconds: float) -> Rates:
        """Each marked stream's share of frames received over ``seconds`` of media after its mark
        (waiting, up to ``LATE`` s past them, for those frames to arrive)."""

        def arrived() -> bool:
            return all(
                (self.everyone[name].newest(key) or 0) >= mark + seconds * CLOCK[key[1]]
                for (name, key), mark in marks.items()
            )

        with contextlib.suppress(AssertionError):  # a stream that stopped: its share below says by how much
            await until(arrived, seconds + LATE)
        return {(name, key): self.everyone[name].delivered(key, mark, seconds) for (name, key), mark in marks.items()}

    async def baseline(self, *faulty: str) -> Rates:
        """Each stream's rate between the others (all but ``faulty``) over ``BASELINE`` s of media."""
        marks = self.mark(*faulty)
        assert len(marks) == len(self.others(*faulty)) * (len(self.others(*faulty)) - 1) * len(KINDS), marks
        before = await self.rates(marks, BASELINE)
        assert all(share > 0 for share in before.values()), before
        return before

    async def before_fault(self, *faulty: str) -> tuple[Rates, Marks]:
        """The others' rates, then where each of their streams is now: call right before the fault."""
        return await self.baseline(*faulty), self.mark(*faulty)

    async def assert_media_kept_flowing(self, baseline: Rates, marks: Marks) -> None:
        """Every stream of ``baseline`` kept ``KEEP_RATE`` of its rate over ``RECOVERY`` s of media from
        ``marks`` (taken with ``mark()`` as the fault began)."""
        after = await self.rates({k: v for k, v in marks.items() if k in baseline}, RECOVERY)
        short = {
            f"{name} <- {key}": (round(baseline[(name, key)], 2), round(share, 2))
            for (name, key), share in after.items()
            if share < KEEP_RATE * baseline[(name, key)]
        }
        assert not short, f"streams below {KEEP_RATE:.0%} of their rate after the fault (before, after): {short}"

    async def assert_others_unaffected(self, baseline: Rates, marks: Marks, *faulty: str) -> None:
        """What every fault test asks right after the fault: the others' commands and media go on."""
        await self.assert_acks_quick(*faulty)
        await self.assert_media_kept_flowing(baseline, marks)

    async def assert_acks_quick(self, *faulty: str) -> None:
        """Every other participant's command is acknowledged, ok, within ``ACK_WITHIN``."""
        for member in self.others(*faulty):
            started = time.monotonic()
            reply = await asyncio.wait_for(
                member.wire.ask("media.state", {"audio": True, "video": True}), timeout=ACK_WITHIN
            )
            took = time.monotonic() - started
            assert reply["ok"] and took < ACK_WITHIN, (member.name, reply, took)

    async def participant(self, member: Member, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until the facilitator's view shows ``member`` as ``predicate`` says."""
        lead = self.facilitator.wire

        def shows(state: dict[str, Any]) -> bool:
            return any(p["id"] == member.id and predicate(p) for p in state["participants"])

        if lead.last("session.state") is not None and shows(lead.last("session.state")):
            return dict(lead.last("session.state"))
        return await lead.state(shows, timeout=timeout, since=lead.count("session.state"))

    async def assert_can_end(self, *gone: str) -> None:
        """The facilitator ends the session: acknowledged at once, and everyone still here is told."""
        waiting = [m for n, m in self.everyone.items() if n not in gone]
        started = time.monotonic()
        reply = await self.facilitator.wire.ask("end")
        took = time.monotonic() - started
        assert reply["ok"] and took < ACK_WITHIN, (reply, took)
        for member in waiting:
            await member.wire.wait_for("session.ended", timeout=5)

    async def close(self) -> None:
        for member in self.everyone.values():
            await member.close()


def _count_frames(receiver: Any, frames: Frames, keyframes: Frames | None = None) -> None:
    """Test-only hook on aiortc's receiver: note each RTP packet it takes (arrival, RTP timestamp
    unwrapped; a frame's packets share one), and keep what its jitter buffer completes from the
    decoder (NACK and PLI go on as before). ``keyframes``: each VP8 keyframe's (arrival, width), which
    tells a simulcast publisher's layers apart without decoding.

    Packets, not completed frames: aiortc's audio jitter buffer holds 16 packets, and drops frames
    when a stall of this busy process hands it more at once."""
    buffer = receiver._RTCRtpReceiver__jitter_buffer
    add = buffer.add
    last: list[int] = []  # the previous raw timestamp and its unwrapped value

    def counting_add(packet: Any) -> Any:
        raw = packet.timestamp
        if last:
            delta = (raw - last[0]) & 0xFFFFFFFF
            unwrapped = last[1] + (delta - (1 << 32) if delta >= 1 << 31 else delta)
        else:
            unwrapped = raw
        last[:] = [raw, unwrapped]
        frames.append((time.monotonic(), unwrapped))
        width = vp8_keyframe_width(packet.payload) if keyframes is not None else None
        if width is not None and keyframes is not None:
            keyframes.append((time.monotonic(), width))
        pli, _ = add(packet)
        return pli, None

    buffer.add = counting_add


def vp8_keyframe_width(payload: bytes) -> int | None:
    """The frame width a VP8 RTP payload's keyframe header carries (RFC 6386 9.1), or None for any
    other packet."""
    if not (vp8_starts_frame(payload) and vp8_is_keyframe(payload)):
        return None
    size = vp8_descriptor_size(payload)
    assert size is not None  # a keyframe's descriptor was read above
    header = payload[size : size + 10]
    if len(header) < 10 or header[3:6] != b"\x9d\x01\x2a":  # the keyframe start code
        return None
    return int.from_bytes(header[6:8], "little") & 0x3FFF


async def until(predicate: Any, timeout: float = 15.0, describe: Any = None) -> float:
    """Wait for a condition (polled every 20 ms); the seconds it took, or the test fails (saying
    ``describe()``, when given, of what is still missing)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s" + (f": {describe()}" if describe else ""))
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def candidates(sdp: str) -> set[tuple[str, int]]:
    """The (address, port) of every UDP ICE candidate in an SDP."""
    found = set()
    for line in sdp.splitlines():
        match = re.match(r"a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ", line, re.IGNORECASE)
        if match:
            found.add((match.group(1), int(match.group(2))))
    return found
