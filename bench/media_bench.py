"""Media benchmark: the same room through aiortc's MediaRelay (decode + re-encode) and Hearth's forwarder.

For N participants each publishing pre-encoded 640x480 VP8 (~500 kbit/s) and Opus, every participant
receives the other N-1. The server runs in its own process (``--serve``) so its CPU is measured alone
(the process's own CPU clock, read in it at the window's ends; psutil for the kernel's share); the
clients (this process) never decode: they count reassembled frames and RTP packets.

Printed per mode and N: server CPU core-seconds per second, server CPU microseconds per RTP packet the
subscribers received, frames delivered per second per subscriber (and % of what was sent), and video
frame latency publisher -> subscriber (hash-matched, so only for forwarded, not re-encoded, frames),
next to the same latency measured on a direct client-to-client connection: the difference is the
server hop. Pre-encoded publishers ignore keyframe requests, so a clip loop (3 s) carries the keyframe.

    .venv/bin/python bench/media_bench.py            # N = 2..8, both modes (about 8 minutes)
    .venv/bin/python bench/media_bench.py --quick    # N = 2, 4, 8, shorter windows
    .venv/bin/python bench/media_bench.py --n 2 8 --modes hearth --breakdown   # where the CPU goes
    .venv/bin/python bench/media_bench.py --n 2 8 --modes hearth --idle        # a silent room's own cost
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import av
import psutil
import pylibsrtp
import uvloop
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import media_probe  # bench/, this script's own folder
from machine import describe

from rooms.model import stream_id_for
from server.heap import quiet_gc
from server.media import seam
from server.media.engine import MediaEngine
from server.media.vp8 import vp8_descriptor_size
from signaling.ports import ForwardingPolicy

SESSION = "bench"
W, H, FPS, CLIP_FRAMES = 640, 480, 30, 90


def config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


# --- the clip ---------------------------------------------------------------------------------------


def encode_clip(width: int = W, height: int = H, bit_rate: int = 500_000) -> tuple[list[bytes], list[bytes]]:
    """3 s of VP8 at ~``bit_rate`` (gradient + moving noise patch) and of Opus, encoded once."""
    vp8 = av.CodecContext.create("libvpx", "w")
    vp8.width, vp8.height, vp8.pix_fmt = width, height, "yuv420p"
    vp8.time_base = fractions.Fraction(1, FPS)
    vp8.bit_rate = bit_rate
    vp8.gop_size = CLIP_FRAMES
    vp8.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "end-usage": "cbr"}
    ramp = bytes(i & 0xFF for i in range(2048))
    chroma = bytes([128]) * (width * height // 4)
    video: list[bytes] = []
    for i in range(CLIP_FRAMES):
        rows = [bytearray(ramp[(r + 4 * i) % 1024 : (r + 4 * i) % 1024 + width]) for r in range(height)]
        for r in range(60):  # an 80x60 noise patch that walks across the frame
            x = (i * 6) % (width - 80)
            rows[(i * 3 + r) % height][x : x + 80] = os.urandom(80)
        frame = av.VideoFrame(width, height, "yuv420p")
        frame.planes[0].update(b"".join(rows))
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        frame.pts = i
        video += [bytes(p) for p in vp8.encode(frame)]
    video += [bytes(p) for p in vp8.encode(None)]
    opus = av.CodecContext.create("libopus", "w")
    opus.sample_rate, opus.layout, opus.format = 48000, "mono", "s16"
    opus.bit_rate = 32000
    audio: list[bytes] = []
    for i in range(150):
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.sample_rate, frame.pts = 48000, i * 960
        frame.planes[0].update(os.urandom(1920))
        audio += [bytes(p) for p in opus.encode(frame)]
    return video[:CLIP_FRAMES], audio


class ClipTrack(MediaStreamTrack):  # type: ignore[misc]
    """Loops pre-encoded packets at their real rate; aiortc's sender packs them without encoding."""

    def __init__(self, kind: str, clip: list[bytes], offset: int, sent: dict[int, float] | None) -> None:
        super().__init__()
        self.kind = kind
        self.clip, self.i, self.sent = clip, offset, sent
        self.rate, self.clock = (FPS, 90000) if kind == "video" else (50, 48000)
        self.count = 0
        self._start: float | None = None
        self.quiet_from: float | None = None  # wall-clock time to stop sending (``--idle``)

    async def recv(self) -> av.Packet:
        if self.quiet_from is not None and time.time() >= self.quiet_from:
            await asyncio.get_running_loop().create_future()  # silent from now on: sends nothing, ever
        self._start = self._start or time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self.count / self.rate - time.monotonic()))
        data = self.clip[self.i % len(self.clip)]
        packet = av.Packet(data)
        packet.pts, packet.time_base = self.count * (self.clock // self.rate), fractions.Fraction(1, self.clock)
        if self.sent is not None:
            self.sent[hash(data)] = time.perf_counter()
        self.i += 1
        self.count += 1
        return packet


# --- server process ---------------------------------------------------------------------------------


class RelayServer:
    """Baseline: aiortc as documented; MediaRelay fans decoded frames out and every sender re-encodes."""

    def __init__(self, events: Any) -> None:
        self.events, self.relay = events, MediaRelay()
        self.pcs: list[RTCPeerConnection] = []
        self.tracks: dict[str, list[MediaStreamTrack]] = defaultdict(list)
        self.subs: dict[str, RTCPeerConnection] = {}

    async def set_policy(self, session_id: str, policy: ForwardingPolicy) -> None:
        return None

    async def publish(self, session_id: str, pid: str, sdp: str) -> str:
        pc = RTCPeerConnection(config())
        self.pcs.append(pc)
        pc.on("track", lambda track: self.tracks[pid].append(track))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def start(self) -> None:
        for pid in list(self.tracks):
            pc = self.subs[pid] = RTCPeerConnection(config())
            self.pcs.append(pc)
            for other, tracks in self.tracks.items():
                for track in tracks if other != pid else []:
                    tr = pc.addTransceiver(self.relay.subscribe(track), direction="sendonly")
                    mime = "video/VP8" if track.kind == "video" else "audio/opus"
                    tr.setCodecPreferences(
                        [c for c in RTCRtpSender.getCapabilities(track.kind).codecs if c.mimeType == mime]
                    )
                    seam.set_msid(tr.sender, stream_id_for(other), f"{other}-{track.kind}")
            await pc.setLocalDescription(await pc.createOffer())
            await self.events.send_offer(SESSION, pid, pc.localDescription.sdp, 1)

    async def answer(self, session_id: str, pid: str, sdp: str, revision: int) -> None:
        await self.subs[pid].setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()


class Link:
    """JSON lines over a TCP stream, with request ids; unsolicited messages go to ``on_event``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, on_event: Any = None) -> None:
        self.reader, self.writer, self.on_event = reader, writer, on_event
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.task = asyncio.ensure_future(self._read())

    def send(self, message: dict[str, Any]) -> None:
        self.writer.write((json.dumps(message) + "\n").encode())

    async def call(self, op: str, **kw: Any) -> Any:
        key = len(self.pending)
        fut = self.pending[key] = asyncio.get_running_loop().create_future()
        self.send({"op": op, "id": key, **kw})
        return await fut

    async def _read(self) -> None:
        while line := await self.reader.readline():
            msg = json.loads(line)
            if msg.get("event") == "reply":
                self.pending[msg["id"]].set_result(msg["result"])
            elif self.on_event is not None:
                await self.on_event(msg)


async def serve(mode: str, probe: Any = None) -> None:
    """The server process: a control port for JSON lines; offers go to whichever link owns the pid.

    ``probe`` (a ``media_probe.Probe``, installed before the engine exists) is reset and read through
    the control port, for ``--breakdown``.
    """
    owners: dict[str, asyncio.StreamWriter] = {}
    early: dict[str, bytes] = {}
    done = asyncio.Event()

    class Events:
        async def send_offer(self, session_id: str, pid: str, sdp: str, revision: int) -> None:
            line = (json.dumps({"event": "offer", "pid": pid, "sdp": sdp, "revision": revision}) + "\n").encode()
            if pid in owners:
                owners[pid].write(line)
            else:
                early[pid] = line  # its client has not said hello yet; only the newest offer matters

        async def speaking(self, session_id: str, levels: dict[str, float], active: str | None) -> None:
            return None

        async def connection_lost(self, session_id: str, pid: str, leg: str) -> None:
            return None

        async def video_paused(self, session_id: str, pid: str, paused: list[str], audio_only: bool) -> None:
            return None

    server: Any = MediaEngine(Events(), allow_loopback=True) if mode == "hearth" else RelayServer(Events())

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # links still open at exit are cancelled
            await control(reader, writer)

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            msg = json.loads(line)
            op, reply = msg["op"], None
            if op == "hello":
                owners.update({pid: writer for pid in msg["pids"]})
                for pid in msg["pids"]:
                    if pid in early:
                        writer.write(early.pop(pid))
            elif op == "policy":
                members = frozenset(msg["members"])
                await server.set_policy(SESSION, ForwardingPolicy(members, members))
            elif op == "publish":
                reply = await server.publish(SESSION, msg["pid"], msg["sdp"])
            elif op == "answer":
                await server.answer(SESSION, msg["pid"], msg["sdp"], msg["revision"])
            elif op == "start" and mode == "relay":
                await server.start()
            elif op == "cpu":  # the process's CPU to the nanosecond (psutil reads 10 ms clock ticks)
                reply = time.process_time()
            elif op == "probe_reset":
                probe.reset()
            elif op == "probe":
                reply = probe.report()
            elif op == "states":
                pcs = server.connections() if mode == "hearth" else server.pcs
                reply = sorted(pc.connectionState for pc in pcs)
            writer.write((json.dumps({"event": "reply", "id": msg["id"], "result": reply}) + "\n").encode())
            if op == "quit":
                done.set()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(json.dumps({"port": listener.sockets[0].getsockname()[1]}), flush=True)
    await done.wait()
    await server.close()
    listener.close()


# --- clients ----------------------------------------------------------------------------------------


@dataclass
class Counter:
    packets: int = 0
    frames: int = 0
    latencies: list[float] = field(default_factory=list)


class Subscriber:
    """Counts RTP packets and marker-complete frames per remote stream, right after SRTP.

    The bench clients share 2 cores with the server, so they skip aiortc's receive path (parse,
    routing, statistics, NACK, depayload, jitter buffer): a hook on the bundled DTLS transport reads
    SSRC, marker and timestamp from the header and strips the VP8 descriptor itself. Nothing decodes.
    Once the ICE sockets exist (``hook_sockets``), SRTP is unprotected right in their callbacks, with
    no queue hop or coroutine per packet, so the clients take less of the CPU the server needs; the
    direct client-to-client reference uses the same path.
    """

    def __init__(self, sent: dict[str, dict[int, float]]) -> None:
        self.pc = RTCPeerConnection(config())
        self.sent = sent
        self.counters: dict[tuple[str, str], Counter] = defaultdict(Counter)
        self._by_ssrc: dict[int, Any] = {}
        self._hooked = False

    def on_offer(self, sdp: str, publisher: str | None = None) -> None:
        for section in sdp.split("\r\nm=")[1:]:
            kind, msid, ssrcs = section.split(" ", 1)[0], None, []
            for line in section.split("\r\n"):
                if line.startswith("a=msid:"):
                    msid = publisher or line[7:].split()[0].removeprefix("hearth-")
                elif line.startswith("a=ssrc:"):
                    ssrcs.append(int(line[7:].split()[0]))
            for ssrc in ssrcs if msid else []:
                if ssrc not in self._by_ssrc:
                    self._by_ssrc[ssrc] = self._sink((msid, kind))

    def tap_all(self) -> None:
        """Call after the remote offer is applied, before the answer: the transport exists by then."""
        if not self._hooked and self.pc.getTransceivers():
            dtls: Any = self.pc.getTransceivers()[0].receiver.transport
            dtls._handle_rtp_data = self._on_rtp
            self._hooked = True

    def hook_sockets(self) -> None:
        """Call after the answer is applied locally: the ICE sockets exist by then."""
        dtls: Any = self.pc.getTransceivers()[0].receiver.transport
        by_ssrc = self._by_ssrc
        unprotect: list[Any] = []
        for protocol in dtls.transport._connection._protocols:
            if getattr(protocol, "_bench_hooked", False):
                continue
            original = protocol.datagram_received

            def datagram_received(data: bytes, addr: Any, original: Any = original) -> None:
                if 127 < data[0] < 192 and not 191 < data[1] < 224 and dtls._rx_srtp is not None:
                    sink = by_ssrc.get(int.from_bytes(data[8:12], "big"))
                    if sink is not None:
                        if not unprotect:
                            unprotect.append(seam.fast_srtp(dtls._rx_srtp, unprotect=True))
                        with contextlib.suppress(pylibsrtp.Error, IndexError):  # replayed or truncated
                            sink(unprotect[0](data))
                        return
                original(data, addr)

            protocol.datagram_received = datagram_received
            protocol._bench_hooked = True

    async def _on_rtp(self, data: bytes, arrival_time_ms: int) -> None:
        sink = self._by_ssrc.get(int.from_bytes(data[8:12], "big"))
        if sink is not None:
            sink(data)

    def _sink(self, key: tuple[str, str]) -> Any:
        counter, parts, sent = self.counters[key], [], self.sent.get(key[0], {})
        seen: deque[int] = deque(maxlen=128)  # a NACK retransmission must not count a frame twice
        frame_ts = [-1]
        video = key[1] == "video"

        def on_data(data: bytes) -> None:
            counter.packets += 1
            marker, ts = data[1] & 0x80, int.from_bytes(data[4:8], "big")
            if not video or marker:
                if ts in seen:
                    return
                seen.append(ts)
                counter.frames += 1
            if not video:
                return
            start = 12 + 4 * (data[0] & 0x0F)
            if data[0] & 0x10:
                start += 4 + 4 * int.from_bytes(data[start + 2 : start + 4], "big")
            end = len(data) - (data[-1] if data[0] & 0x20 else 0)
            if ts != frame_ts[0]:
                frame_ts[0] = ts
                parts.clear()
            payload = data[start:end]
            parts.append(payload[vp8_descriptor_size(payload) or len(payload) :])  # None: cut short
            if marker:
                at = sent.get(hash(b"".join(parts)))  # matches only a complete, in-order frame
                if at is not None:
                    counter.latencies.append(time.perf_counter() - at)
                parts.clear()

        return on_data


async def worker(port: int, pids: list[str], offset: int, clip: tuple[list[bytes], list[bytes]]) -> None:
    """A client process: publishes for ``pids``, answers their offers, counts, reports on a time window."""
    sent: dict[str, dict[int, float]] = {pid: {} for pid in pids}
    subs = {pid: Subscriber(sent) for pid in pids}
    calls: set[asyncio.Future[Any]] = set()

    async def on_offer(msg: dict[str, Any]) -> None:
        sub = subs[msg["pid"]]
        sub.on_offer(msg["sdp"])
        await sub.pc.setRemoteDescription(RTCSessionDescription(sdp=msg["sdp"], type="offer"))
        sub.tap_all()
        await sub.pc.setLocalDescription(await sub.pc.createAnswer())
        sub.hook_sockets()
        seam.enlarge_receive_buffers(sub.pc, 4 << 20)  # a starved client must not drop what it is sent
        answer = link.call("answer", pid=msg["pid"], sdp=sub.pc.localDescription.sdp, revision=msg["revision"])
        calls.add(asyncio.ensure_future(answer))

    link = Link(*await asyncio.open_connection("127.0.0.1", port), on_event=on_offer)
    await link.call("hello", pids=pids)
    pubs, tracks = [], []
    for i, pid in enumerate(pids):
        pc = RTCPeerConnection(config())
        for kind, data, log in (("audio", clip[1], None), ("video", clip[0], sent[pid])):
            track = ClipTrack(kind, data, offset=(offset + i) * 7, sent=log)
            tracks.append((pid, track))
            tr = pc.addTransceiver(track, direction="sendonly")
            mime = "video/VP8" if kind == "video" else "audio/opus"
            tr.setCodecPreferences([c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType == mime])
        await pc.setLocalDescription(await pc.createOffer())
        answer = await link.call("publish", pid=pid, sdp=pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        pubs.append(pc)
    print(json.dumps({"published": True}), flush=True)
    times = json.loads(await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline))
    if times.get("idle"):
        for _, track in tracks:
            track.quiet_from = times["t0"] - 1.0  # the room stays connected; nothing is sent in the window

    def snapshot() -> dict[str, Any]:
        return {
            "got": [
                [s, p, k, c.packets, c.frames, len(c.latencies)]
                for s, sub in subs.items()
                for (p, k), c in sub.counters.items()
            ],
            "sent": [[p, t.kind, t.count] for p, t in tracks],
        }

    await asyncio.sleep(max(0.0, times["t0"] - time.time()))
    first = snapshot()
    marks = {id(c): len(c.latencies) for sub in subs.values() for c in sub.counters.values()}
    await asyncio.sleep(max(0.0, times["t1"] - time.time()))
    last = snapshot()
    lat = [x for sub in subs.values() for c in sub.counters.values() for x in c.latencies[marks.get(id(c), 0) :]]
    print(json.dumps({"first": first, "last": last, "latencies": lat}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    link.writer.close()
    for pc in pubs + [s.pc for s in subs.values()]:
        await pc.close()


async def run_room(
    mode: str,
    n: int,
    clip_file: str,
    workers: int,
    warmup: float,
    window: float,
    loop: str = "uvloop",
    breakdown: bool = False,
    idle: bool = False,
) -> dict[str, Any]:
    probing = breakdown and mode == "hearth"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        mode,
        "--loop",
        loop,
        *(["--probe"] if probing else []),
        stdout=subprocess.PIPE,
        limit=1 << 26,
    )
    assert server.stdout
    port = json.loads(await server.stdout.readline())["port"]
    control = Link(*await asyncio.open_connection("127.0.0.1", port))
    ids = [f"p{i}" for i in range(n)]
    await control.call("policy", members=ids)
    # Latency is hash-matched inside one client process (it knows when it sent each frame), so at
    # N = 2 both participants share one process, or no frame could be matched; from N = 3 on, the
    # first process holds at least two.
    workers = max(1, min(workers, n - 1))
    groups = [ids[k::workers] for k in range(workers)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--client",
            str(port),
            ",".join(group),
            str(k),
            clip_file,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            limit=1 << 26,
        )
        for k, group in enumerate(groups)
    ]
    for proc in procs:
        assert proc.stdout and json.loads(await proc.stdout.readline())["published"]
    await control.call("start")
    t0 = time.time() + warmup
    t1 = t0 + window
    for proc in procs:
        assert proc.stdin
        proc.stdin.write((json.dumps({"t0": t0, "t1": t1, "idle": idle}) + "\n").encode())
    await asyncio.sleep(max(0.0, t0 - time.time()))
    cpu0 = psutil.Process(server.pid).cpu_times()
    clock0 = await control.call("cpu")
    if probing:
        await control.call("probe_reset")
    await asyncio.sleep(max(0.0, t1 - time.time()))
    clock1 = await control.call("cpu")
    cpu1 = psutil.Process(server.pid).cpu_times()
    parts = await control.call("probe") if probing else None
    reports = [json.loads(await proc.stdout.readline()) for proc in procs if proc.stdout]
    states = await control.call("states")
    for proc in procs:
        assert proc.stdin
        proc.stdin.write(b"bye\n")
        await proc.wait()
    await control.call("quit")
    await server.wait()
    control.task.cancel()
    result = summarize(mode, n, ids, window, clock1 - clock0, cpu0, cpu1, reports)
    result["connected"] = f"{states.count('connected')}/{len(states)}"
    result["parts"] = parts
    return result


def summarize(
    mode: str,
    n: int,
    ids: list[str],
    seconds: float,
    cpu: float,
    cpu0: Any,
    cpu1: Any,
    reports: list[dict[str, Any]],
) -> dict[str, Any]:
    """``cpu``: the server's CPU seconds over the window, read in the server (nanoseconds); ``cpu0``
    and ``cpu1``: psutil's readings (10 ms ticks), for the kernel's share only. At N = 2 the window
    holds about 0.1 s of CPU, so ticks alone would move us/pkt by up to 10 us."""

    def table(part: str, kind: str) -> dict[tuple[str, ...], list[int]]:
        width = 3 if kind == "got" else 2
        return {tuple(row[:width]): row[width:] for r in reports for row in r[part][kind]}

    got0, got1 = table("first", "got"), table("last", "got")
    sent0, sent1 = table("first", "sent"), table("last", "sent")
    packets = sum(v[0] - got0.get(k, [0, 0, 0])[0] for k, v in got1.items())
    shares: dict[str, list[float]] = defaultdict(list)
    fps: dict[str, list[float]] = defaultdict(list)
    for s in ids:
        for p in ids:
            for kind in ("audio", "video") if p != s else ():
                frames = got1.get((s, p, kind), [0, 0])[1] - got0.get((s, p, kind), [0, 0])[1]
                shares[kind].append(frames / max(1, sent1[(p, kind)][0] - sent0[(p, kind)][0]))
                fps[kind].append(frames / seconds)
    lat = sorted(x for r in reports for x in r["latencies"])
    ticks = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    return {
        "mode": mode,
        "n": n,
        "cores": cpu / seconds,
        "sys_pct": 100 * (cpu1.system - cpu0.system) / max(1e-9, ticks),
        "us_per_packet": 1e6 * cpu / max(1, packets),
        "pkts_per_s": packets / seconds,
        "video_fps": statistics.mean(fps["video"]),
        "audio_fps": statistics.mean(fps["audio"]),
        "video_min_pct": 100 * min(shares["video"]),
        "audio_min_pct": 100 * min(shares["audio"]),
        "lat_p50": percentile(lat, 50),
        "lat_p99": percentile(lat, 99),
    }


async def direct_latency(clip: tuple[list[bytes], list[bytes]], seconds: float) -> tuple[float, float]:
    """The same latency measurement with no server in the path: the reference for the server hop."""
    a, b = RTCPeerConnection(config()), RTCPeerConnection(config())
    sent: dict[int, float] = {}
    track = ClipTrack("video", clip[0], 0, sent)
    tr = a.addTransceiver(track, direction="sendonly")
    tr.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"])
    await a.setLocalDescription(await a.createOffer())
    sub = Subscriber({"a": sent})
    await sub.pc.close()
    sub.pc = b
    sub.on_offer(a.localDescription.sdp, publisher="a")
    await b.setRemoteDescription(a.localDescription)
    sub.tap_all()
    await b.setLocalDescription(await b.createAnswer())
    sub.hook_sockets()
    await a.setRemoteDescription(b.localDescription)
    await asyncio.sleep(seconds)
    lat = sorted(sub.counters[("a", "video")].latencies)
    await a.close()
    await b.close()
    return percentile(lat, 50), percentile(lat, 99)


def percentile(values: list[float], p: float) -> float:
    return 1000 * values[min(len(values) - 1, int(len(values) * p / 100))] if values else float("nan")


def shared_clip(prefix: str) -> tuple[Any, str, float]:
    """The clip encoded once, in a file the client processes load, and its video bit rate (kbit/s)."""
    clip = encode_clip()
    clip_file = os.path.join(tempfile.mkdtemp(prefix=prefix), "clip.pickle")
    with open(clip_file, "wb") as f:
        pickle.dump(clip, f)
    return clip, clip_file, sum(map(len, clip[0])) * 8 / (len(clip[0]) / FPS) / 1000


async def main(args: argparse.Namespace) -> None:
    seam.enable_loopback_candidates()
    clip, clip_file, kbps = shared_clip("media_bench")
    print(describe())
    print(f"clip: {len(clip[0])} VP8 frames {W}x{H} at {kbps:.0f} kbit/s, {len(clip[1])} Opus packets")
    d50, d99 = await direct_latency(clip, 6.0)
    print(f"direct client->client video frame latency (no server): p50 {d50:.2f} ms, p99 {d99:.2f} ms\n")
    if args.idle:
        print("idle rooms: everyone connected and subscribed, publishers silent from 1 s before the window")
    else:
        print(" ".join(f"{title:>{width}}" for title, width, _, _ in COLUMNS))
    rows: list[dict[str, Any]] = []
    for n in args.n:
        for mode in args.modes:
            warmup = args.warmup + n  # sequential joins, renegotiation, then a clip keyframe (every 3 s)
            r = await run_room(
                mode, n, clip_file, args.workers, warmup, args.window, args.loop, args.breakdown, args.idle
            )
            r["load"] = os.getloadavg()[0]
            if args.idle:
                print(f"{mode} N={n}, idle: server {r['cores']:.4f} core ({r['pkts_per_s']:.0f} packets/s delivered)")
                continue
            rows.append(r)
            print(" ".join(f"{r[key]:>{width}{fmt}}" for _, width, key, fmt in COLUMNS), flush=True)
    if args.idle:
        return
    print("\ncolumns: cores = server CPU core-seconds per second; us/pkt = server CPU per RTP packet received by")
    print("subscribers; vfps/afps = frames per second per received stream; min% = worst stream, % of frames sent;")
    print("lat = publisher -> subscriber video frame, ms (hash-matched, forwarded frames only); sys% = kernel")
    print("share of server CPU; load = 1-minute load average of the machine after the run; pcs up = server")
    print("peer connections in state 'connected' at the end of the window.")
    for n in args.n:
        relay = next((r for r in rows if r["n"] == n and r["mode"] == "relay"), None)
        hearth = next((r for r in rows if r["n"] == n and r["mode"] == "hearth"), None)
        if relay and hearth:
            ratio = relay["us_per_packet"] / hearth["us_per_packet"]
            print(f"N={n}: Hearth is {ratio:.1f}x cheaper per delivered packet than the decode+re-encode relay")
    probed = [r for r in rows if r.get("parts")]
    if probed:
        print("\nwhere Hearth's CPU goes, us per delivered packet (bench/media_probe.py: sampled packets, one part")
        print("timed in each; 'outside' = the total less the packet path, and includes the probes' own cost):")
        for r in probed:
            us = {part: 1e6 * seconds / max(1.0, r["pkts_per_s"] * args.window) for part, seconds in r["parts"].items()}
            us["outside"] = r["us_per_packet"] - us.pop("packet")
            split = " | ".join(f"{label} {us[part]:.1f}" for part, label in BREAKDOWN if part in us)
            print(f"N={r['n']}: total {r['us_per_packet']:.1f} = {split}")


BREAKDOWN = [
    ("outlets", "compiled copies (rewrite, protect, sendto)"),
    ("receive", "compiled receive (unprotect, header, statistics) + Python source"),
    ("sendto", "sendto"),
    ("protect", "SRTP protect"),
    ("unprotect", "SRTP unprotect"),
    ("python", "Python packet path"),
    ("outside", "outside the packet path"),
]

COLUMNS = [
    ("mode", 6, "mode", ""),
    ("N", 2, "n", ""),
    ("cores", 6, "cores", ".3f"),
    ("us/pkt", 7, "us_per_packet", ".1f"),
    ("pkt/s", 6, "pkts_per_s", ".0f"),
    ("vfps", 5, "video_fps", ".1f"),
    ("v min%", 6, "video_min_pct", ".1f"),
    ("afps", 5, "audio_fps", ".1f"),
    ("a min%", 6, "audio_min_pct", ".1f"),
    ("lat p50", 8, "lat_p50", ".2f"),
    ("lat p99", 8, "lat_p99", ".2f"),
    ("sys%", 4, "sys_pct", ".0f"),
    ("load", 5, "load", ".1f"),
    ("pcs up", 6, "connected", ""),
]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=["hearth", "relay"], help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help="client processes (the clients need CPU too)")
    parser.add_argument("--quick", action="store_true", help="N = 2, 4, 8 with short windows")
    parser.add_argument("--n", type=int, nargs="+", default=list(range(2, 9)))
    parser.add_argument("--modes", nargs="+", default=["relay", "hearth"], choices=["relay", "hearth"])
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop", help="server event loop")
    parser.add_argument("--window", type=float, default=10.0, help="measured seconds per room")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring, plus N (ICE, keyframes)")
    parser.add_argument(
        "--breakdown", action="store_true", help="also time the parts of Hearth's packet path (bench/media_probe.py)"
    )
    parser.add_argument("--idle", action="store_true", help="rooms connected, nobody sending: their own cost")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.serve:
        quiet_gc()  # as `hearth serve` runs: startup heap frozen, young collections less often
        if ns.loop == "uvloop":
            uvloop.install()  # as `hearth serve` runs, for both modes
        probe = None
        if ns.probe:
            probe = media_probe.Probe()
            media_probe.install(probe)
        profile_to = os.environ.get("MEDIA_BENCH_PROFILE")  # cProfile the server process, e.g. to find hot paths
        if profile_to:
            import cProfile

            profiler = cProfile.Profile(time.thread_time)  # CPU, not wall: the machine is shared
            profiler.runcall(asyncio.run, serve(ns.serve, probe))
            profiler.dump_stats(f"{profile_to}.{ns.serve}")
        else:
            asyncio.run(serve(ns.serve, probe))
    elif ns.client:
        port, pids, offset, path = ns.client
        seam.enable_loopback_candidates()
        with open(path, "rb") as f:
            asyncio.run(worker(int(port), pids.split(","), int(offset), pickle.load(f)))
    else:
        if ns.quick:
            ns.n, ns.window, ns.warmup = [n for n in ns.n if n in (2, 4, 8)], 6.0, 5.0
        asyncio.run(main(ns))
