"""Breakout speed: how soon the pairs see and hear each other, and how soon the room is whole again.

    .venv/bin/python bench/breakout_bench.py                  # 8 members, 5 runs
    .venv/bin/python bench/breakout_bench.py --members 4 --runs 1

A real node runs in its own process (``hearth serve --allow-loopback``: its CPU is its own); this
process holds a facilitator (signaling only) and N members, real aiortc peers that publish a
pre-encoded VP8 clip and an Opus tone and receive everyone the server forwards to them, stamping each
RTP packet as it arrives (after SRTP, before any decoding: nothing is decoded here). Once everyone
receives everyone, each run:

- ``breakout.start`` (pairs, shuffled by the server): at each member, the time from sending the
  command to the first complete video frame and to the first audio packet from their partner, and
  to the last packet that still came from anyone outside the pair (what was in flight, and the gates
  closing). The partner was already flowing in the main room: the figures say that the move keeps the
  pair's media going without a gap, and how soon the others stop;
- ``breakout.end``: at each member, the time from sending the command to the first complete video
  frame, and the first audio packet, from every member of the main room whose media had been held
  back (everyone but the partner): the slowest of them, per member. A reopened video gate waits for
  a keyframe, which the server asks of the publisher at once; these publishers answer a keyframe
  request with a keyframe, as browsers do (the clip's frames are also encoded as keyframes).

Printed: p50 and p95 of each over members x runs, and whether the goal is met (both under 500 ms at
p95). Times include this process's own lag in reading its sockets (one Python process for N
peers, on a machine shared with the server): they are upper bounds of what the server adds.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
import uvloop
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import describe  # noqa: E402

from tests.faults.media_session import Member, until  # noqa: E402
from tests.harness import OPERATOR_KEY, Harness  # noqa: E402
from tests.media.clients import HEIGHT, WIDTH, ToneAudio, client_config, pattern_frame  # noqa: E402
from tests.web.hearth_process import HearthServer, start_server  # noqa: E402

GOAL_MS = 500.0
FPS = 30
CLIP_FRAMES = 90  # 3 s: one keyframe at its start, unless a keyframe is asked for
SETTLE = 2.0  # seconds a breakout runs before it ends: the gates have closed, the packets in flight arrived
BREAKOUT_MINUTES = 10.0  # ended by the bench long before


def encode(frames: int, gop: int) -> list[bytes]:
    """The moving pattern as VP8 frames, a keyframe every ``gop`` frames."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.bit_rate = 300_000
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    codec.gop_size = gop
    out: list[bytes] = []
    for i in range(frames):
        frame = pattern_frame(i)
        frame.pts = i
        out.extend(bytes(p) for p in codec.encode(frame))
    out.extend(bytes(p) for p in codec.encode(None))
    return out[:frames]


class Clip:
    """Each frame of the clip twice: as the stream has it (deltas), and as a keyframe."""

    def __init__(self, frames: int = CLIP_FRAMES) -> None:
        self.deltas = encode(frames, gop=frames)
        self.keys = encode(frames, gop=1)


class KeyframeVideo(MediaStreamTrack):  # type: ignore[misc]
    """Sends the clip at 30 fps; after a keyframe request (PLI/FIR from the server), the next frame
    is a keyframe, as a browser's encoder would make one."""

    kind = "video"

    def __init__(self, clip: Clip) -> None:
        super().__init__()
        self.clip = clip
        self.key_wanted = False
        self._i = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._i / FPS - time.monotonic()))
        index = self._i % len(self.clip.deltas)
        frames = self.clip.keys if self.key_wanted else self.clip.deltas
        self.key_wanted = False
        packet = av.Packet(frames[index])
        packet.pts = self._i * (90000 // FPS)
        packet.time_base = fractions.Fraction(1, 90000)
        self._i += 1
        return packet


class BenchMember(Member):
    """A member whose video answers keyframe requests (see ``KeyframeVideo``)."""

    async def publish(self) -> None:
        pc = self.publisher = RTCPeerConnection(client_config())
        pc.addTrack(ToneAudio())
        video = KeyframeVideo(self.clip)
        sender = pc.addTrack(video)
        # aiortc hands a PLI to the sender's encoder, which pre-encoded frames bypass: take it here.
        sender._send_keyframe = lambda: setattr(video, "key_wanted", True)
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self.wire.ask("rtc.publish", {"sdp": pc.localDescription.sdp, "type": "offer"})
        assert reply["ok"], reply
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))


def first_audio(member: Member, sender: Member, since: float) -> float | None:
    """Arrival of the first audio packet from ``sender`` at or after ``since``."""
    return next((at for at, _ in member.frames[(sender.stream, "audio")] if at >= since), None)


def first_video_frame(member: Member, sender: Member, since: float) -> float | None:
    """Arrival of the last packet of the first video frame from ``sender`` begun at or after ``since``."""
    packets = member.frames[(sender.stream, "video")]
    first = next((ts for at, ts in packets if at >= since), None)
    if first is None:
        return None
    return max(at for at, ts in packets if ts == first and at >= since)


def last_from(member: Member, senders: list[Member], since: float) -> float:
    """Arrival of the last packet (any kind) from any of ``senders`` after ``since`` (``since`` if none)."""
    last = since
    for sender in senders:
        for kind in ("audio", "video"):
            for at, _ in reversed(member.frames[(sender.stream, kind)]):
                if at >= since:
                    last = max(last, at)
                break  # the newest packet is the last one
    return last


class Room:
    """A facilitator (signaling only) and the members, all admitted, all publishing."""

    def __init__(self, harness: Harness, lead: Any, members: list[BenchMember]) -> None:
        self.harness, self.lead, self.members = harness, lead, members

    @classmethod
    async def open(cls, harness: Harness, count: int, clip: Clip) -> Room:
        session = await harness.create_session(requires_agreement=False)
        lead = await harness.connect(session["facilitator_token"])
        members = []
        for i in range(count):
            invite = await harness.invite(session["id"], f"Member {i + 1}")
            wire = await harness.connect(invite["token"])
            reply = await lead.ask("admit", {"id": wire.id})
            assert reply["ok"], reply
            members.append(BenchMember(wire, f"Member {i + 1}", invite["token"], clip))  # type: ignore[arg-type]
        for member in members:
            await member.publish()
        room = cls(harness, lead, members)
        await until(lambda: room.everyone_since(0.0), 60.0)
        return room

    def everyone_since(self, since: float) -> bool:
        """Every member has video and audio from every other member at or after ``since``."""
        return all(
            first_video_frame(m, o, since) is not None and first_audio(m, o, since) is not None
            for m in self.members
            for o in self.members
            if o is not m
        )

    async def pairs(self, since: int) -> dict[str, Member]:
        """Each member's partner, from the facilitator's first view of a breakout after ``since``
        (their count of states before it started)."""
        state = await self.lead.state(lambda s: bool((s.get("breakout") or {}).get("groups")), timeout=10, since=since)
        by_id = {m.id: m for m in self.members}
        partner: dict[str, Member] = {}
        for group in state["breakout"]["groups"]:
            ids = group["members"]
            assert len(ids) == 2, f"not a pair: {ids}"
            partner[ids[0]], partner[ids[1]] = by_id[ids[1]], by_id[ids[0]]
        return partner

    async def run(self, figures: dict[str, list[float]]) -> None:
        """One breakout: start, measure, end, measure."""
        states = self.lead.count("session.state")
        started = time.monotonic()
        reply = await self.lead.ask("breakout.start", {"size": 2, "minutes": BREAKOUT_MINUTES})
        assert reply["ok"], reply
        partner = await self.pairs(states)

        def arrived(m: Member) -> bool:
            return bool(first_video_frame(m, partner[m.id], started) and first_audio(m, partner[m.id], started))

        def partners_arrived() -> bool:
            return all(arrived(m) for m in self.members)

        def missing() -> list[str]:
            return [f"{m.name} has nothing yet from {partner[m.id].name}" for m in self.members if not arrived(m)]

        await until(partners_arrived, 10.0, missing)
        await asyncio.sleep(SETTLE)
        for m in self.members:
            p = partner[m.id]
            outside = [o for o in self.members if o is not m and o is not p]
            figures["start video"].append(first_video_frame(m, p, started) - started)  # type: ignore[operator]
            figures["start audio"].append(first_audio(m, p, started) - started)  # type: ignore[operator]
            figures["start outside"].append(last_from(m, outside, started) - started)

        ended = time.monotonic()
        reply = await self.lead.ask("breakout.end")
        assert reply["ok"], reply
        await until(lambda: self.everyone_since(ended), 15.0)
        for m in self.members:
            back = [o for o in self.members if o is not m and o is not partner[m.id]]
            figures["end video"].append(max(first_video_frame(m, o, ended) for o in back) - ended)  # type: ignore[type-var,operator]
            figures["end audio"].append(max(first_audio(m, o, ended) for o in back) - ended)  # type: ignore[type-var,operator]
        await asyncio.sleep(SETTLE / 2)

    async def close(self) -> None:
        for member in self.members:
            await member.close()
            await member.wire.close()
        await self.lead.close()


def percentile(values: list[float], p: float) -> float:
    """Milliseconds at the p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else float("nan")


LINES = (
    ("start video", "breakout.start -> first partner video frame"),
    ("start audio", "breakout.start -> first partner audio packet"),
    ("start outside", "breakout.start -> last packet from outside the pair"),
    ("end video", "breakout.end -> first video frame from every main-room member"),
    ("end audio", "breakout.end -> first audio packet from every main-room member"),
)


def report(figures: dict[str, list[float]]) -> None:
    for key, label in LINES:
        values = figures[key]
        print(f"{label}: p50 {percentile(values, 50):.0f} ms, p95 {percentile(values, 95):.0f} ms (n={len(values)})")
    goal = ("start video", "start audio", "end video", "end audio")
    met = all(percentile(figures[k], 95) < GOAL_MS for k in goal)
    print(f"goal (p95 under {GOAL_MS:.0f} ms, start and end, video and audio): {'met' if met else 'not met'}")


async def bench(server: HearthServer, members: int, runs: int) -> dict[str, list[float]]:
    clip = Clip()
    figures: dict[str, list[float]] = {key: [] for key, _ in LINES}
    async with aiohttp.ClientSession() as http:
        harness = Harness(server.base, None, http)  # type: ignore[arg-type]
        room = await Room.open(harness, members, clip)
        try:
            for _ in range(runs):
                await room.run(figures)
        finally:
            await room.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=8, help="members in the room (even: they make pairs)")
    parser.add_argument("--runs", type=int, default=5, help="breakouts started and ended, one after another")
    args = parser.parse_args()
    print(describe())
    server = start_server(Path(tempfile.mkdtemp(prefix="breakout-bench-")), operator_key=OPERATOR_KEY)
    try:
        print(f"breakout bench: {args.members} members in pairs, {args.runs} runs, server pid {server.process.pid}")
        figures = uvloop.run(bench(server, args.members, args.runs))
    finally:
        server.stop()
    report(figures)


if __name__ == "__main__":
    main()
