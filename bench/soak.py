"""Soak: sessions of aiortc members with media through a real node, while members fail at random.

Every few seconds one member (never a facilitator) has an ordinary fault: its network drops, it
stalls (its signaling stops being read and its media stops, as a frozen tab or a tunnel), it closes
its receiving or its publishing connection, or it leaves and rejoins. Everyone else keeps acting
(a raised and lowered hand every two seconds) and receiving. The node is ``hearth serve`` with its
shipped defaults (uvloop, in-memory store); the members run in worker processes, publish a
pre-encoded VP8 clip and Opus, and count what they receive without decoding (``media_bench``'s
lean ``Subscriber``).

Printed per session: events acked and the worst ack; media delivery per stream, over windows in
which neither end of the stream had a fault in the last ``--recovery`` seconds (median and worst of
those stream-windows, audio and video); faults injected. At the end, after every session has ended
and every member has left: what the node still holds against what it held before the first session
(WebRTC connections, Engine.IO sockets, asyncio tasks: the same means nothing leaked; read after a
warm-up connection and a ping interval after the end, so engine.io's own service and ping tasks are
not counted) and its RSS.

    .venv/bin/python bench/soak.py                                           # 8 x 8 members, 30 minutes
    .venv/bin/python bench/soak.py --sessions 2 --members 4 --minutes 1      # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psutil
import socketio
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import InvalidStateError

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from machine import describe  # bench/, this script's own folder
from media_bench import ClipTrack, Subscriber, config, encode_clip

from server.config import Settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FAULTS = ("drop", "stall", "close_receiving", "close_publishing", "rejoin")
BEAT = 2.0  # seconds between a member's acts
OWN_RECOVERY = 10.0  # seconds after its own fault in which a member's acks are counted apart


# --- a member, in a worker process ----------------------------------------------------------------


@dataclass
class Member:
    url: str
    session: str
    token: str
    lead: bool
    clip: tuple[list[bytes], list[bytes]]
    offset: int
    id: str = ""
    sio: socketio.AsyncClient | None = None
    publisher: RTCPeerConnection | None = None
    subscriber: Subscriber | None = None
    subscriber_ufrag: str = ""
    tracks: dict[str, ClipTrack] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})  # before current tracks
    received: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))  # from old connections
    acks: list[float] = field(default_factory=list)  # while this member was not at fault
    faulted_acks: list[float] = field(default_factory=list)  # during its own fault or the recovery after
    failed_acks: int = 0  # while not at fault
    faulted_failed_acks: int = 0
    failed_joins: int = 0
    faulted_at: float = -1e9
    stalled: bool = False
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def join(self) -> None:
        sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2.0)
        sio.on("welcome", self._welcome)
        sio.on("rtc.offer", self._offer)
        self.sio = sio
        for attempt in range(10):  # as a page does: a refused or failed first connection is tried again
            try:
                await sio.connect(self.url, auth={"token": self.token}, transports=["websocket"], wait_timeout=10)
                return
            except socketio.exceptions.ConnectionError:
                self.failed_joins += 1
                await asyncio.sleep(min(0.5 * 2**attempt, 4.0) * random.uniform(0.5, 1.5))
        raise ConnectionError(f"member {self.id or '?'} could not join in ten attempts")

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _welcome(self, data: dict[str, Any]) -> None:
        self.id = data["you"]["id"]
        if data["you"]["status"] == "admitted":
            self._spawn(self.publish())

    async def publish(self) -> None:
        await self.close_publisher()
        pc = RTCPeerConnection(config())
        for kind, clip in (("audio", self.clip[1]), ("video", self.clip[0])):
            track = ClipTrack(kind, clip, offset=self.offset * 7, sent=None)
            self.tracks[kind] = track
            transceiver = pc.addTransceiver(track, direction="sendonly")
            mime = "video/VP8" if kind == "video" else "audio/opus"
            codecs = RTCRtpSender.getCapabilities(kind).codecs
            transceiver.setCodecPreferences([c for c in codecs if c.mimeType == mime])
        self.publisher = pc
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self.call("rtc.publish", {"sdp": pc.localDescription.sdp, "type": "offer"})
        if reply.get("ok") and self.publisher is pc:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    async def _offer(self, data: dict[str, Any]) -> None:
        self._spawn(self._answer(data))

    async def _answer(self, data: dict[str, Any]) -> None:
        sdp = data["sdp"]
        ufrag = next((line[12:] for line in sdp.split("\r\n") if line.startswith("a=ice-ufrag:")), "")
        sub = self.subscriber
        if sub is None or ufrag != self.subscriber_ufrag or sub.pc.connectionState in ("closed", "failed"):
            await self.close_subscriber()  # the server started the receiving connection afresh
            sub = self.subscriber = Subscriber({})
            self.subscriber_ufrag = ufrag
        sub.on_offer(sdp)
        try:
            await sub.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            sub.tap_all()
            await sub.pc.setLocalDescription(await sub.pc.createAnswer())
        except InvalidStateError:
            return  # this member closed its receiving connection meanwhile (its own fault): the next offer
        sub.hook_sockets()
        answer = {"sdp": sub.pc.localDescription.sdp, "type": "answer", "revision": data["revision"]}
        await self.call("rtc.answer", answer)

    async def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        started, started_wall = time.monotonic(), time.time()
        try:
            assert self.sio is not None
            reply: dict[str, Any] = await self.sio.call(event, data, timeout=10)
        except Exception:
            if self.at_fault(started_wall):
                self.faulted_failed_acks += 1
            else:
                self.failed_acks += 1
            return {"ok": False}
        (self.faulted_acks if self.at_fault(started_wall) else self.acks).append(time.monotonic() - started)
        return reply

    def at_fault(self, since: float) -> bool:
        """Whether this member had a fault of its own between ``since`` (a call's start, minus the
        recovery) and now: its own acks then measure its fault, not the node."""
        return self.stalled or self.faulted_at >= since - OWN_RECOVERY

    async def beat(self, until: float) -> None:
        raised = False
        while time.time() < until:
            await asyncio.sleep(BEAT * (0.5 + random.random()))
            if self.sio is not None and self.sio.connected and not self.stalled:
                await self.call("hand.lower" if raised else "hand.raise", {})
                raised = not raised

    def counts(self) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """Frames sent per kind and received per (stream, kind), since the start, across reconnects."""
        sent = {k: self.sent[k] + (self.tracks[k].count if k in self.tracks else 0) for k in ("audio", "video")}
        got = dict(self.received)
        if self.subscriber is not None:
            for key, counter in self.subscriber.counters.items():
                got[key] = got.get(key, 0) + counter.frames
        return sent, got

    async def close_publisher(self) -> None:
        for kind, track in self.tracks.items():
            self.sent[kind] += track.count
        self.tracks.clear()
        pc, self.publisher = self.publisher, None
        if pc is not None:
            await pc.close()

    async def close_subscriber(self) -> None:
        sub, self.subscriber = self.subscriber, None
        if sub is not None:
            for key, counter in sub.counters.items():
                self.received[key] += counter.frames
            await sub.pc.close()

    # --- faults ---

    async def fault(self, kind: str) -> None:
        self.faulted_at = time.time()
        assert self.sio is not None
        if kind == "drop":  # the network goes: the signaling connection is reset, media stops
            transport = _websocket_transport(self.sio)
            if transport is not None:
                transport.abort()  # python-socketio reconnects by itself; the welcome republishes
            await self.close_publisher()
            await self.close_subscriber()
            if transport is None:
                await self.sio.disconnect()
                await asyncio.sleep(random.uniform(1.0, 3.0))
                await self.join()
        elif kind == "stall":
            await self.stall(random.uniform(5.0, 20.0))
        elif kind == "close_receiving":
            if self.subscriber is not None:
                await self.subscriber.pc.close()
        elif kind == "close_publishing":
            await self.close_publisher()
            await asyncio.sleep(random.uniform(1.0, 3.0))
            self.faulted_at = time.time()
            await self.publish()
        elif kind == "rejoin":
            with contextlib.suppress(Exception):
                await self.sio.disconnect()
            await self.close_publisher()
            await self.close_subscriber()
            await asyncio.sleep(random.uniform(1.0, 4.0))
            self.faulted_at = time.time()
            await self.join()

    async def stall(self, seconds: float) -> None:
        """A frozen tab: nothing it receives is read, nothing is sent (its media tracks pause too)."""
        transport = _websocket_transport(self.sio)
        self.stalled = True
        for track in self.tracks.values():
            track.quiet_from = time.time()
        if transport is not None:
            transport.pause_reading()
        await asyncio.sleep(seconds)
        if transport is not None and not transport.is_closing():
            transport.resume_reading()
        self.stalled = False
        self.faulted_at = time.time()
        if self.sio is not None and self.sio.connected:
            await self.publish()  # its paused tracks never resume: publish afresh, as a woken page does

    async def leave(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.sio is not None:
            with contextlib.suppress(Exception):
                await self.sio.disconnect()
        await self.close_publisher()
        await self.close_subscriber()


def _websocket_transport(sio: socketio.AsyncClient | None) -> Any:
    """The TCP transport under python-engineio's WebSocket (aiohttp), or None where it is not found."""
    ws = getattr(getattr(sio, "eio", None), "ws", None)
    connection = getattr(getattr(ws, "_response", None), "connection", None) or getattr(ws, "_conn", None)
    return getattr(connection, "transport", None)


async def worker(spec: dict[str, Any]) -> None:
    random.seed(spec["seed"])
    clip = encode_clip(320, 240, 200_000)
    members = [
        Member(spec["url"], s, token, lead, clip, offset=i) for i, (s, token, lead) in enumerate(spec["members"])
    ]
    for member in sorted(members, key=lambda m: not m.lead):  # facilitators first: members are let in
        await member.join()
    t0, until = spec["t0"], spec["t0"] + spec["seconds"]
    beats = [asyncio.ensure_future(m.beat(until)) for m in members]
    chaos = asyncio.ensure_future(_chaos([m for m in members if not m.lead], until, spec["every"]))
    window = 0
    while time.time() < until:
        window += 1
        await asyncio.sleep(max(0.0, t0 + window * spec["window"] - time.time()))
        report = []
        for m in members:
            sent, got = m.counts()
            report.append(
                {
                    "session": m.session,
                    "id": m.id,
                    "sent": sent,
                    "got": [[s, k, n] for (s, k), n in got.items()],
                    "faulted_at": m.faulted_at,
                    "acks": len(m.acks),
                    "worst_ack": max(m.acks, default=0.0),
                    "failed_acks": m.failed_acks,
                    "faulted_acks": len(m.faulted_acks),
                    "faulted_failed_acks": m.faulted_failed_acks,
                    "worst_faulted_ack": max(m.faulted_acks, default=0.0),
                    "failed_joins": m.failed_joins,
                }
            )
        print(json.dumps({"window": window, "at": time.time(), "members": report}), flush=True)
    chaos.cancel()
    for task in beats:
        task.cancel()
    await asyncio.gather(chaos, *beats, return_exceptions=True)
    for lead in [m for m in members if m.lead]:
        await lead.call("end", {})
    await asyncio.sleep(1.0)
    for m in members:
        await m.leave()
    print(json.dumps({"done": True, "faults": _FAULTS}), flush=True)


_FAULTS: list[list[Any]] = []


async def _chaos(members: list[Member], until: float, every: float) -> None:
    while time.time() < until - 2 * every:
        await asyncio.sleep(random.uniform(0.5 * every, 1.5 * every))
        ready = [m for m in members if not m.stalled and time.time() - m.faulted_at > every]
        if not ready:
            continue
        member, kind = random.choice(ready), random.choice(FAULTS)
        _FAULTS.append([member.session, kind])
        member._spawn(member.fault(kind))


# --- the run ----------------------------------------------------------------------------------------


async def api(http: aiohttp.ClientSession, base: str, key: str, path: str, body: dict[str, Any]) -> Any:
    async with http.post(f"{base}{path}", json=body, headers={"Authorization": f"Bearer {key}"}) as r:
        assert r.status == 201, await r.text()
        return await r.json()


async def node_figures(http: aiohttp.ClientSession, base: str, key: str, pid: int) -> dict[str, float]:
    async with http.get(f"{base}/metrics", headers={"Authorization": f"Bearer {key}"}) as r:
        text = await r.text()
    wanted = ("hearth_peer_connections", "hearth_engineio_sockets", "hearth_asyncio_tasks", "hearth_sessions_live")
    figures = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line and not line.startswith("#") and line.split()[0] in wanted
    }
    figures["rss_mb"] = psutil.Process(pid).memory_info().rss / 2**20
    return figures


def start_node(port: int, key: str, ping_interval: float) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "server", "serve", "--port", str(port), f"--operator-key={key}"]
    args += [f"--ping-interval={ping_interval}"]
    args += [f"--secret={secrets.token_urlsafe(32)}", "--allow-loopback", "--log-text"]
    log = open(f"/tmp/hearth-soak-{port}.log", "wb")  # noqa: SIM115 -- closed with the process
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


async def wait_ready(http: aiohttp.ClientSession, base: str) -> None:
    for _ in range(200):
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{base}/healthz") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError("the node did not start")


async def warm_up(http: aiohttp.ClientSession, base: str, key: str, ping_interval: float) -> None:
    """One connection in and out first: what a node starts on its first connection (engine.io's
    service task) is not counted as a leak; its socket's ping task ends within a ping interval."""
    created = await api(http, base, key, "/api/sessions", {"title": "Warm-up", "requires_agreement": False})
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(base, auth={"token": created["facilitator_token"]}, transports=["websocket"])
    await sio.call("end", {})
    await sio.disconnect()
    await asyncio.sleep(ping_interval + 2.0)


def delivery(windows: list[dict[str, Any]], recovery: float) -> dict[str, dict[str, list[float]]]:
    """Per session and kind: received / sent, per stream and window, where neither end had a fault lately."""
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for before, after in itertools.pairwise(windows):
        start = before["at"]
        old = {(m["session"], m["id"]): m for m in before["members"]}
        new = {(m["session"], m["id"]): m for m in after["members"]}
        for (session, pid), member in new.items():
            prev = old.get((session, pid))
            if prev is None or member["faulted_at"] > start - recovery:
                continue
            got_before = {(s, k): n for s, k, n in prev["got"]}
            for (other_session, other), publisher in new.items():
                p0 = old.get((other_session, other))
                if other_session != session or other == pid or p0 is None:
                    continue
                if publisher["faulted_at"] > start - recovery:
                    continue
                for kind in ("audio", "video"):
                    sent = publisher["sent"][kind] - p0["sent"][kind]
                    key = (other, kind)  # the lean Subscriber names a stream by its publisher's id
                    got = {(s, k): n for s, k, n in member["got"]}.get(key, 0) - got_before.get(key, 0)
                    if sent > 0:
                        out[session][kind].append(min(1.0, got / sent))
    return out


async def main(args: argparse.Namespace) -> None:
    key, port = secrets.token_urlsafe(24), 20000 + random.randrange(20000)
    base = f"http://127.0.0.1:{port}"
    node = start_node(port, key, args.ping_interval)
    async with aiohttp.ClientSession() as http:
        try:
            await wait_ready(http, base)
            await warm_up(http, base, key, args.ping_interval)
            idle = await node_figures(http, base, key, node.pid)
            specs: list[list[tuple[str, str, bool]]] = [[] for _ in range(args.workers)]
            sessions = []
            for s in range(args.sessions):
                body = {"title": f"Soak {s}", "requires_agreement": False, "admission": "open"}
                created = await api(http, base, key, "/api/sessions", body)
                sessions.append(created["id"])
                people = [(created["id"], created["facilitator_token"], True)]
                for m in range(args.members - 1):
                    invite = await api(http, base, key, f"/api/sessions/{created['id']}/invites", {"name": f"M{m}"})
                    people.append((created["id"], invite["token"], False))
                specs[s % args.workers] += people  # a session's people in one worker, facilitator first
            t0 = time.time() + args.lead_in  # the workers encode their clip and join meanwhile
            procs = []
            for w, people in enumerate(specs):
                spec = {"url": base, "members": people, "t0": t0, "seconds": args.minutes * 60, "window": args.window}
                spec |= {"every": args.every * args.workers, "seed": args.seed + w}
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, __file__, "--worker", json.dumps(spec), stdout=asyncio.subprocess.PIPE
                )
                procs.append(proc)
            lines = await asyncio.gather(*(p.communicate() for p in procs))
            started = await node_figures(http, base, key, node.pid)  # nothing live any more
            await asyncio.sleep(args.ping_interval + 2.0)  # closed sockets' ping tasks end by then
            after = await node_figures(http, base, key, node.pid)
        finally:
            node.terminate()
            node.wait(15)
    report(args, sessions, [out.decode() for out, _ in lines], idle, started, after)


def report(
    args: argparse.Namespace,
    sessions: list[str],
    outputs: list[str],
    idle: dict[str, float],
    right_after: dict[str, float],
    after: dict[str, float],
) -> None:
    by_window: dict[int, dict[str, Any]] = {}
    faults: list[list[Any]] = []
    for out in outputs:
        for line in out.splitlines():
            message = json.loads(line)
            if "window" in message:
                merged = by_window.setdefault(message["window"], {"at": message["at"], "members": []})
                merged["members"] += message["members"]
                merged["at"] = min(merged["at"], message["at"])
            elif message.get("done"):
                faults += message["faults"]
    windows = [by_window[k] for k in sorted(by_window)]
    # Each session's members as its worker last reported them (workers may differ by a window).
    last: dict[str, list[dict[str, Any]]] = {}
    for window in reversed(windows):
        reported: dict[str, list[dict[str, Any]]] = {}
        for m in window["members"]:
            reported.setdefault(m["session"], []).append(m)
        for session, members in reported.items():
            last.setdefault(session, members)
    rates = delivery(windows, args.recovery)
    print(describe())
    print(f"soak: {args.sessions} sessions x {args.members} members, {args.minutes:g} min,", end=" ")
    print(f"a fault every ~{args.every:g} s")
    print("acked, failed, worst ack: members not at fault; own fault: the same of a member during its own fault")
    print("and the 10 s after (acked / failed / worst)")
    print(
        "session          acked  failed  worst ack     own fault           audio median/worst  video median/worst"
        "  streams  faults"
    )
    for session in sessions:
        members = last.get(session, [])
        kinds = rates.get(session, {})
        cells = []
        for kind in ("audio", "video"):
            values = kinds.get(kind, [])
            cells.append(
                f"{100 * statistics.median(values):5.1f}/{100 * min(values):5.1f} %" if values else "   n/a      "
            )
        faulted = [k for s, k in faults if s == session]
        print(
            f"{session:15} {sum(m['acks'] for m in members):6} {sum(m['failed_acks'] for m in members):7}"
            f" {max((m['worst_ack'] for m in members), default=0) * 1000:8.1f} ms"
            f"  {sum(m['faulted_acks'] for m in members):5}/{sum(m['faulted_failed_acks'] for m in members):4}/"
            f"{max((m['worst_faulted_ack'] for m in members), default=0):5.1f} s"
            f"  {cells[0]:>18}  {cells[1]:>18} {sum(len(v) for v in kinds.values()):8}"
            f"  {len(faulted)} ({', '.join(f'{k} {faulted.count(k)}' for k in sorted(set(faulted)))})"
        )
    refused = sum(m.get("failed_joins", 0) for members in last.values() for m in members)
    print(f"connection attempts that failed and were tried again (members joining or rejoining): {refused}")
    names = ("hearth_peer_connections", "hearth_engineio_sockets", "hearth_asyncio_tasks", "hearth_sessions_live")
    print("node before / right after / a ping interval after the end:")
    for name in names:
        print(f"  {name:28} {idle.get(name, 0):6.0f} {right_after.get(name, 0):6.0f} {after.get(name, 0):6.0f}")
    leaked = {n: after.get(n, 0) - idle.get(n, 0) for n in names}
    print(f"  leaked: {', '.join(f'{n} {v:+.0f}' for n, v in leaked.items())}")
    print(f"  RSS: {idle['rss_mb']:.1f} MiB at the start, {after['rss_mb']:.1f} MiB at the end")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        import uvloop

        uvloop.install()
        asyncio.run(worker(json.loads(sys.argv[2])))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=4.0, help="seconds between faults, node-wide (about)")
    parser.add_argument("--recovery", type=float, default=10.0, help="seconds after a fault a stream is not judged")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=float, default=10.0, help="seconds per delivery window")
    parser.add_argument("--lead-in", type=float, default=15.0, help="seconds to encode clips and join")
    defaults = Settings()
    parser.add_argument(
        "--ping-interval", type=float, default=defaults.ping_interval, help="the node's (default: as shipped)"
    )
    asyncio.run(main(parser.parse_args()))
