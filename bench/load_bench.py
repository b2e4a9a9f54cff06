"""Signaling load test: many group sessions of real Socket.IO clients doing what people do, for a while.

Starts ``hearth serve --no-media`` as a subprocess on a free loopback port, creates ``--sessions``
sessions with ``--clients`` connections each (one facilitator, the rest members), and lets every client
act at random at a human pace, choosing only acts its role may do in the state it last saw (members
raise and lower hands, nod, set media state, write to the facilitator, pass their turn; facilitators
give the floor, move phases, run go-arounds, mute and allow). It prints events per second, ack
latency percentiles, errors by code, and the server's RSS at the start and the end.

    .venv/bin/python bench/load_bench.py --sessions 50 --clients 8 --seconds 300

Bounded: the run stops after ``--seconds`` (plus setup and teardown, each with its own timeout), and
every client sends at most one event at a time. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import socketio

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    by_event: Counter[str] = field(default_factory=Counter)
    timeouts: int = 0

    def record(self, event: str, seconds: float, reply: Any) -> None:
        self.latencies.append(seconds)
        self.by_event[event] += 1
        ok = isinstance(reply, dict) and reply.get("ok")
        self.codes["ok" if ok else str((reply or {}).get("error", {}).get("code", "malformed"))] += 1


@dataclass
class Person:
    sio: socketio.AsyncClient
    role: str
    id: str = ""
    state: dict[str, Any] | None = None
    last_nod: float = 0.0
    last_help: float = 0.0


@dataclass
class Group:
    session_id: str
    facilitator: Person
    members: list[Person] = field(default_factory=list)

    @property
    def state(self) -> dict[str, Any] | None:
        return self.facilitator.state


async def connect(url: str, token: str, role: str) -> Person:
    sio = socketio.AsyncClient(reconnection=False)
    person = Person(sio, role)
    welcomed = asyncio.Event()

    async def on_welcome(data: dict[str, Any]) -> None:
        person.id = data["you"]["id"]
        person.state = data["session"]
        welcomed.set()

    async def on_state(data: dict[str, Any]) -> None:
        if person.state is None or data["version"] >= person.state["version"]:
            person.state = data

    sio.on("welcome", on_welcome)
    sio.on("session.state", on_state)
    await sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=20)
    await asyncio.wait_for(welcomed.wait(), 20)
    return person


async def make_group(http: aiohttp.ClientSession, url: str, key: str, clients: int, index: int) -> Group:
    auth = {"Authorization": f"Bearer {key}"}
    body = {"title": f"Load group {index}", "requires_agreement": False, "max_participants": max(12, clients)}
    async with http.post(f"{url}/api/sessions", json=body, headers=auth) as r:
        assert r.status == 201, await r.text()
        session = await r.json()
    group = Group(session["id"], await connect(url, session["facilitator_token"], "facilitator"))
    for i in range(clients - 1):
        async with http.post(
            f"{url}/api/sessions/{session['id']}/invites", json={"name": f"Member {i}"}, headers=auth
        ) as r:
            assert r.status == 201, await r.text()
            token = (await r.json())["token"]
        member = await connect(url, token, "member")
        reply = await group.facilitator.sio.call("admit", {"id": member.id}, timeout=20)
        assert reply["ok"], reply
        group.members.append(member)
    return group


def admitted_members(state: dict[str, Any]) -> list[str]:
    return [p["id"] for p in state["participants"] if p["status"] == "admitted" and p["role"] == "member"]


def member_act(person: Person, state: dict[str, Any], now: float) -> tuple[str, dict[str, Any]]:
    me = next((p for p in state["participants"] if p["id"] == person.id), None)
    holder = state["floor"]["holder"] if state["floor"] else None
    g = state["go_around"]
    if g is not None and g["order"][g["position"]] == person.id and random.random() < 0.5:
        return "turn.pass", {}
    if holder == person.id and g is None and random.random() < 0.5:
        return "floor.release", {}
    choices: list[tuple[str, dict[str, Any]]] = [("media.state", {"audio": False, "video": random.random() < 0.5})]
    if me is not None and not me["forced_mute"]:
        choices.append(("media.state", {"audio": True, "video": random.random() < 0.5}))
    if person.id in state["queue"]:
        choices.append(("hand.lower", {}))
    elif holder != person.id:
        choices.append(("hand.raise", {}))
    if now - person.last_nod > 3.5:
        choices.append(("nod", {}))
    leads = [p["id"] for p in state["participants"] if p["role"] != "member" and p["status"] == "admitted"]
    if leads:
        choices.append(("note", {"to": random.choice(leads), "text": "thank you"}))
    event, payload = random.choice(choices)
    if event == "nod":
        person.last_nod = now
    return event, payload


def facilitator_act(state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    members = admitted_members(state)
    g = state["go_around"]
    choices: list[tuple[str, dict[str, Any]]] = [
        ("phase.set", {"index": random.randrange(len(state["agenda"]))}),
    ]
    if state["phase"]["index"] + 1 < len(state["agenda"]):
        choices.append(("phase.next", {}))
    if g is None:
        if members:
            choices.append(("floor.grant", {"id": random.choice(members), "turn_seconds": 20}))
            choices.append(("goaround.start", {"turn_seconds": 5}))
        if state["queue"]:
            choices += [("floor.next", {})] * 2
    else:
        choices.append(("goaround.stop", {}))
    for p in state["participants"]:
        if p["role"] == "member" and p["status"] == "admitted":
            choices.append(("unmute.allow" if p["forced_mute"] else "mute", {"id": p["id"]}))
    return random.choice(choices)


async def act_forever(person: Person, group: Group, stats: Stats, rate: float, until: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(min(random.expovariate(rate), max(0.0, until - loop.time())))
        now = loop.time()
        if now >= until or not person.sio.connected:
            return
        state = group.state
        if state is None:
            continue
        if person.role == "facilitator":
            event, payload = facilitator_act(state)
        else:
            event, payload = member_act(person, state, time.time())
        started = time.perf_counter()
        try:
            reply = await person.sio.call(event, payload, timeout=10)
        except socketio.exceptions.TimeoutError:
            stats.timeouts += 1
            continue
        stats.record(event, time.perf_counter() - started, reply)


def start_server(port: int, key: str, secret: str) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "server",
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        # "--flag=value": a random key may begin with "-", which argparse would take for a flag.
        f"--operator-key={key}",
        f"--secret={secret}",
        "--no-media",
        "--max-sessions",
        "1000",
    ]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ | {"PYTHONPATH": str(ROOT)}
    )


async def wait_healthy(http: aiohttp.ClientSession, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{url}/healthz") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise SystemExit("the server did not become healthy")


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> int:
    port, key, secret = free_port(), secrets.token_urlsafe(24), secrets.token_urlsafe(32)
    url = f"http://{HOST}:{port}"
    server = start_server(port, key, secret)
    proc = psutil.Process(server.pid)
    groups: list[Group] = []
    try:
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, url)
            rss_idle = proc.memory_info().rss
            gate = asyncio.Semaphore(8)

            async def one(i: int) -> Group:
                async with gate:
                    return await make_group(http, url, key, args.clients, i)

            setup_started = time.monotonic()
            groups = list(
                await asyncio.wait_for(
                    asyncio.gather(*(one(i) for i in range(args.sessions))), timeout=args.setup_timeout
                )
            )
            print(
                f"setup: {len(groups)} sessions x {args.clients} clients in {time.monotonic() - setup_started:.1f} s",
                flush=True,
            )
            await asyncio.sleep(1.0)
            rss_start = proc.memory_info().rss
            me = psutil.Process()
            cpu_server, cpu_bench = sum(proc.cpu_times()[:2]), sum(me.cpu_times()[:2])
            stats = Stats()
            samples: list[int] = [rss_start]
            loop = asyncio.get_running_loop()
            started = loop.time()
            until = started + args.seconds

            async def sample() -> None:
                while (left := until - loop.time()) > 0:
                    await asyncio.sleep(min(5.0, left))
                    samples.append(proc.memory_info().rss)

            people = [(p, g) for g in groups for p in (g.facilitator, *g.members)]
            await asyncio.gather(sample(), *(act_forever(p, g, stats, args.rate, until) for p, g in people))
            elapsed = loop.time() - started
            rss_end = proc.memory_info().rss
            cpu_server = sum(proc.cpu_times()[:2]) - cpu_server
            cpu_bench = sum(me.cpu_times()[:2]) - cpu_bench
            async with http.get(f"{url}/metrics", headers={"Authorization": f"Bearer {key}"}) as r:
                metrics = await r.text()
    finally:
        for g in groups:
            for p in (g.facilitator, *g.members):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(p.sio.disconnect(), 2)
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)

    total = sum(stats.codes.values())
    errors = {code: n for code, n in stats.codes.items() if code != "ok"}
    live = [
        line
        for line in metrics.splitlines()
        if line.startswith(("hearth_sessions_live", "hearth_participants_connected"))
    ]
    print(f"clients: {len(people)} in {len(groups)} sessions, {args.rate:g} acts/s each, {elapsed:.0f} s")
    print(f"events: {total} acknowledged, {total / elapsed:.1f} events/s, {stats.timeouts} timeouts")
    print(
        f"ack latency: p50 {1000 * percentile(stats.latencies, 0.5):.1f} ms, "
        f"p99 {1000 * percentile(stats.latencies, 0.99):.1f} ms, "
        f"max {1000 * max(stats.latencies, default=float('nan')):.1f} ms"
    )
    print(
        f"errors by code: {dict(sorted(errors.items())) or 'none'} "
        f"({100 * sum(errors.values()) / max(total, 1):.2f} % of events)"
    )
    print(f"events by name: {dict(stats.by_event.most_common())}")
    print(
        f"server RSS: idle {mib(rss_idle)}, start {mib(rss_start)}, end {mib(rss_end)} "
        f"(end - start {mib(rss_end - rss_start)}, "
        f"{100 * (rss_end - rss_start) / rss_start:+.1f} %), samples median "
        f"{mib(statistics.median(samples))}, max {mib(max(samples))}"
    )
    print("server gauges at the end: " + "; ".join(live))
    print(
        f"CPU during the run: server {cpu_server:.1f} s ({100 * cpu_server / elapsed:.0f} % of a core), "
        f"these clients {cpu_bench:.1f} s ({100 * cpu_bench / elapsed:.0f} %); machine load "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8, help="connections per session, facilitator included")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=0.5, help="acts per second per client (Poisson)")
    parser.add_argument("--setup-timeout", type=float, default=300.0)
    args = parser.parse_args()
    if args.clients < 2 or args.sessions < 1 or args.seconds <= 0:
        parser.error("need at least one session of two clients, for a positive time")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
