"""What live sessions cost the store: Redis commands and bytes, writes and full-state deliveries per
session, while one member of every session speaks.

One node (``hearth serve``, media on) on a private redis-server, so Redis' own counters see only
Hearth. S sessions of C clients (a facilitator and members: raw Socket.IO clients, ``rawsio``); in
every session one more member publishes a loud tone with aiortc (RFC 6464 levels, as a browser
sends them: the node measures speaking from them). Two phases of W seconds each:

1. speaking only: what a session costs while nobody acts (the goal: at most 0.5 store writes a
   second and no ``session.state`` delivery per speaking session);
2. speaking while the facilitators act R times a second in all (lock, unlock: a save and a state
   broadcast each).

Per phase, per session: Redis commands/s (``INFO commandstats``) and bytes/s in and out (``INFO
stats``), store writes/s (the node's ``hearth_store_seconds_count`` for save and restore),
``session.state`` and ``participation`` deliveries/s counted by the clients, and the facilitators'
ack p50/p99. Then Redis' own CPU per session (``INFO cpu``) and, from it, sessions per Redis core on
paper; a Redis Cluster keeps each session's keys on one shard (hash tags), so N shards carry about N
times as many, as long as sessions spread over slots evenly.

    .venv/bin/python bench/store_load_bench.py                  # 50 sessions x 8, 500 actions/s, 20 s each
    .venv/bin/python bench/store_load_bench.py --sessions 2 --clients 3 --rate 10 --seconds 3   # smoke
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe  # bench/, this script's own folder
from rawsio import RawClient

from tests.redis_server import PrivateRedis, free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Counts:
    states: int = 0
    participation: int = 0
    acks: list[float] = field(default_factory=list)


SPEAKER = r"""
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
import socketio
from aiortc import RTCPeerConnection, RTCSessionDescription
from tests.media.clients import ToneAudio, client_config

async def speak(url, token, pcs):
    sio = socketio.AsyncClient(reconnection=False)
    welcomed = asyncio.get_running_loop().create_future()
    sio.on("welcome", lambda data: welcomed.done() or welcomed.set_result(data))
    await sio.connect(url, auth={"token": token}, transports=["websocket"])
    await welcomed
    pc = RTCPeerConnection(client_config())
    pc.addTrack(ToneAudio())
    await pc.setLocalDescription(await pc.createOffer())
    reply = await sio.call("rtc.publish", {"sdp": pc.localDescription.sdp, "type": "offer"}, timeout=30)
    await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
    pcs.append((sio, pc))

async def main():
    spec = json.loads(sys.argv[2])
    pcs = []
    for token in spec["tokens"]:
        await speak(spec["url"], token, pcs)
    print("speaking", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for sio, pc in pcs:
        await pc.close()
        await sio.disconnect()

asyncio.run(main())
"""


async def api(http: aiohttp.ClientSession, url: str, key: str, path: str, body: dict[str, Any]) -> Any:
    async with http.post(f"{url}{path}", json=body, headers={"Authorization": f"Bearer {key}"}) as r:
        assert r.status == 201, await r.text()
        return await r.json()


async def node_writes(http: aiohttp.ClientSession, url: str, key: str) -> float:
    async with http.get(f"{url}/metrics", headers={"Authorization": f"Bearer {key}"}) as r:
        text = await r.text()
    ops = ('op="save"', 'op="restore"')
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("hearth_store_seconds_count") and any(op in line for op in ops)
    )


async def redis_figures(client: aioredis.Redis) -> dict[str, float]:
    commands = await client.info("commandstats")
    stats, cpu = await client.info("stats"), await client.info("cpu")
    return {
        "commands": sum(float(v["calls"]) for v in commands.values()),
        "bytes_in": float(stats["total_net_input_bytes"]),
        "bytes_out": float(stats["total_net_output_bytes"]),
        "cpu": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
    }


async def phase(
    name: str,
    seconds: float,
    rate: float,
    facilitators: list[RawClient],
    counts: Counts,
    http: aiohttp.ClientSession,
    url: str,
    key: str,
    store: aioredis.Redis,
) -> dict[str, float]:
    """One measuring window; returns figures per session and per second."""
    sessions = len(facilitators)
    counts.states, counts.participation, counts.acks = 0, 0, []
    writes0, redis0, t0 = await node_writes(http, url, key), await redis_figures(store), time.perf_counter()

    async def act(i: int, facilitator: RawClient) -> None:
        interval = sessions / rate
        await asyncio.sleep(interval * i / sessions)
        n = 0
        while time.perf_counter() - t0 < seconds:
            n += 1
            started = time.perf_counter()
            await facilitator.call("lock" if n % 2 else "unlock", {})
            counts.acks.append(time.perf_counter() - started)
            await asyncio.sleep(max(0.0, t0 + n * interval - time.perf_counter()))

    if rate > 0:
        await asyncio.gather(*(act(i, f) for i, f in enumerate(facilitators)))
    await asyncio.sleep(max(0.0, t0 + seconds - time.perf_counter()))
    elapsed = time.perf_counter() - t0
    writes1, redis1 = await node_writes(http, url, key), await redis_figures(store)
    per = elapsed * sessions
    acks = sorted(counts.acks)
    return {
        "phase": name,
        "redis_commands": (redis1["commands"] - redis0["commands"]) / per,
        "redis_bytes": (redis1["bytes_in"] + redis1["bytes_out"] - redis0["bytes_in"] - redis0["bytes_out"]) / per,
        "redis_cpu": (redis1["cpu"] - redis0["cpu"]) / elapsed,
        "writes": (writes1 - writes0) / per,
        "states": counts.states / per,
        "participation": counts.participation / per,
        "ack_p50_ms": 1000 * statistics.median(acks) if acks else float("nan"),
        "ack_p99_ms": 1000 * acks[int(0.99 * (len(acks) - 1))] if acks else float("nan"),
        "actions": len(acks) / per,
    }


async def main(args: argparse.Namespace) -> None:
    key, port = secrets.token_urlsafe(24), free_port()
    url = f"http://127.0.0.1:{port}"
    with PrivateRedis() as redis:
        cmd = [sys.executable, "-m", "server", "serve", f"--port={port}", f"--operator-key={key}"]
        cmd += [f"--secret={secrets.token_urlsafe(32)}", f"--redis-url={redis.url}", "--allow-loopback", "--log-text"]
        cmd += ["--max-sessions=1000"]
        log = (Path("/tmp") / f"hearth-store-load-{port}.log").open("wb")
        node = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        store = aioredis.Redis.from_url(redis.url)
        counts = Counts()

        def on_event(name: str, _: str) -> None:
            if name == "session.state":
                counts.states += 1
            elif name == "participation":
                counts.participation += 1

        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        clients: list[RawClient] = []
        speaker: subprocess.Popen[bytes] | None = None
        try:
            for _ in range(200):
                try:
                    async with http.get(f"{url}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            facilitators, speakers = [], []
            for s in range(args.sessions):
                body = {"title": f"Load {s}", "requires_agreement": False, "admission": "open"}
                created = await api(http, url, key, "/api/sessions", body)
                tokens = [created["facilitator_token"]]
                for m in range(args.clients - 1):
                    path = f"/api/sessions/{created['id']}/invites"
                    tokens.append((await api(http, url, key, path, {"name": f"M{m}"}))["token"])
                speakers.append(
                    (await api(http, url, key, f"/api/sessions/{created['id']}/invites", {"name": "S"}))["token"]
                )
                for i, token in enumerate(tokens):
                    client = RawClient(http, on_event)
                    await client.connect(url, {"token": token})
                    clients.append(client)
                    if i == 0:
                        facilitators.append(client)
            spec = json.dumps({"url": url, "tokens": speakers})
            speaker = subprocess.Popen(
                [sys.executable, "-c", SPEAKER, str(ROOT), spec], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            assert speaker.stdout is not None
            await asyncio.get_running_loop().run_in_executor(None, speaker.stdout.readline)
            await asyncio.sleep(args.warmup)  # speaking is measured, recorded, and settles
            quiet = await phase("speaking", args.seconds, 0, facilitators, counts, http, url, key, store)
            busy = await phase("speaking+actions", args.seconds, args.rate, facilitators, counts, http, url, key, store)
        finally:
            if speaker is not None and speaker.stdin is not None:
                speaker.stdin.write(b"\n")
                speaker.stdin.flush()
                try:
                    speaker.wait(20)
                except subprocess.TimeoutExpired:
                    speaker.kill()
            for client in clients:
                await client.close()
            await http.close()
            await store.aclose()
            node.terminate()
            node.wait(15)
            log.close()
    report(args, [quiet, busy])


def report(args: argparse.Namespace, rows: list[dict[str, float]]) -> None:
    print(describe())
    print(
        f"store load: {args.sessions} sessions x {args.clients} clients + 1 speaker each, "
        f"{args.seconds:g} s per phase, actions {args.rate:g}/s in all in the second"
    )
    print("per session:")
    print("phase              redis cmd/s  redis B/s  writes/s  state/s  partic./s  actions/s  ack p50/p99 ms")
    for r in rows:
        print(
            f"{r['phase']:18} {r['redis_commands']:11.2f} {r['redis_bytes']:10.0f} {r['writes']:9.3f}"
            f" {r['states']:8.2f} {r['participation']:10.2f} {r['actions']:10.2f}"
            f"  {r['ack_p50_ms']:6.1f} / {r['ack_p99_ms']:6.1f}"
        )
    for r in rows:
        per_session = r["redis_cpu"] / args.sessions
        capacity = 1.0 / per_session if per_session > 0 else float("inf")
        print(
            f"{r['phase']}: Redis used {r['redis_cpu']:.3f} core for {args.sessions} sessions,"
            f" {1e3 * per_session:.3f} ms/s each: about {capacity:,.0f} such sessions per Redis core;"
            f" a 3-shard Cluster about {3 * capacity:,.0f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8, help="a facilitator and members, besides the speaker")
    parser.add_argument("--rate", type=float, default=500.0, help="facilitator actions a second in all (phase 2)")
    parser.add_argument("--seconds", type=float, default=20.0, help="each phase")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds of speaking before measuring")
    asyncio.run(main(parser.parse_args()))
