"""Media rooms bench: K concurrent 8-member rooms on one node, with 0, 1 and 2 media workers (``--media-workers``).

The node's media side runs in a process of its own (``--serve W``): the same ``MediaGateway`` a node
uses, the in-process ``MediaEngine`` for W = 0 or ``MediaWorkers`` with W worker processes, driven over
a control port as ``media_bench.py`` drives its server (signaling is not in this loop: its own cost is
``load_bench.py``'s and ``signaling_bench.py``'s). Each room's 8 members are one client process of
``media_bench.py --client`` (lean receive path, nothing decoded; each publishes a pre-encoded VP8 clip
and Opus, each receives the other 7): frames are counted per stream, and video frames are hash-matched
publisher -> subscriber for the hop latency.

Printed per (W, K): the server's CPU (node process + its workers, psutil, over the measured window) in
cores and per room, the load generator's own CPU beside it (it shares the machine), delivery per
stream (mean and worst, % of the frames sent), and the video frame latency p50/p99 through the server;
then, per W, the most rooms carried with every stream kind at >= 99% mean delivery. ``--stall S``
blocks the node process's event loop for S seconds mid-window (``time.sleep`` in it): with workers
forwarding goes on and the hop p99 stays put; with the engine in the node it takes the stall.

    .venv/bin/python bench/media_rooms_bench.py                         # K = 1 2 4 6, W = 0 1 2
    .venv/bin/python bench/media_rooms_bench.py --k 1 2 --workers 0 2 --window 4 --warmup 4
    .venv/bin/python bench/media_rooms_bench.py --k 2 --workers 0 1 --stall 0.5   # hop p99 through a stall
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import psutil

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from machine import describe
from media_bench import Link, direct_latency, percentile, shared_clip

from server.heap import quiet_gc
from server.media import seam
from signaling.ports import ForwardingPolicy

MEMBERS = 8
MEDIA_BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "media_bench.py")
SETUP_SECONDS = 120.0  # beyond warmup and window: joining every room; a run that takes longer is abandoned
GOAL = 99.0  # % of frames delivered, per stream kind (mean over streams)


def room_of(pid: str) -> str:
    return pid.split("-", 1)[0]


async def serve(workers: int) -> None:
    """The node's media side: a control port of JSON lines; offers go to the link that owns the pid."""
    owners: dict[str, asyncio.StreamWriter] = {}
    early: dict[str, bytes] = {}
    done = asyncio.Event()

    class Events:
        async def send_offer(self, session_id: str, pid: str, sdp: str, revision: int) -> None:
            line = (json.dumps({"event": "offer", "pid": pid, "sdp": sdp, "revision": revision}) + "\n").encode()
            if pid in owners:
                if not owners[pid].is_closing():  # a client that has left
                    owners[pid].write(line)
            else:
                early[pid] = line

        async def speaking(self, session_id: str, levels: dict[str, float], active: str | None) -> None:
            return None

        async def connection_lost(self, session_id: str, pid: str, leg: str) -> None:
            return None

    gateway: Any
    if workers:
        from server.media.workers.proxy import MediaWorkers

        gateway = MediaWorkers(Events(), workers, allow_loopback=True, log_json=False)
        await gateway.start()
    else:
        from server.media.engine import MediaEngine

        gateway = MediaEngine(Events(), allow_loopback=True)

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while line := await reader.readline():
                msg = json.loads(line)
                reply = None
                try:
                    reply = await handle(msg, writer)
                except Exception as exc:  # a refused call (a connection that failed): its caller sees None
                    print(f"bench server: {msg['op']} failed: {exc!r}", file=sys.stderr)
                writer.write((json.dumps({"event": "reply", "id": msg["id"], "result": reply}) + "\n").encode())
                if msg["op"] == "quit":
                    done.set()

    async def handle(msg: dict[str, Any], writer: asyncio.StreamWriter) -> Any:
        op = msg["op"]
        if op == "hello":
            owners.update({pid: writer for pid in msg["pids"]})
            for pid in msg["pids"]:
                if pid in early:
                    writer.write(early.pop(pid))
        elif op == "policy":
            members = frozenset(msg["members"])
            await gateway.set_policy(msg["room"], ForwardingPolicy(members, members))
        elif op == "publish":
            return await gateway.publish(room_of(msg["pid"]), msg["pid"], msg["sdp"])
        elif op == "answer":
            await gateway.answer(room_of(msg["pid"]), msg["pid"], msg["sdp"], msg["revision"])
        elif op == "pids":
            return gateway.pids() if workers else []
        elif op == "stall":  # the node's event loop blocked, as by a GC pause or a slow handler
            time.sleep(msg["seconds"])
        return None

    listener = await asyncio.start_server(control, "127.0.0.1", 0)
    print(json.dumps({"port": listener.sockets[0].getsockname()[1]}), flush=True)
    await done.wait()
    await gateway.close()
    listener.close()


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


async def run(
    workers: int, rooms: int, clip_file: str, warmup: float, window: float, stall: float = 0.0
) -> dict[str, Any]:
    server = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", str(workers), stdout=subprocess.PIPE, limit=1 << 26
    )
    clients: list[asyncio.subprocess.Process] = []
    try:
        return await measure(server, clients, workers, rooms, clip_file, warmup, window, stall)
    finally:  # a run cut short (connections that never came up on a starved machine) leaves nothing behind
        for proc in [*clients, server]:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


async def measure(
    server: asyncio.subprocess.Process,
    clients: list[asyncio.subprocess.Process],
    workers: int,
    rooms: int,
    clip_file: str,
    warmup: float,
    window: float,
    stall: float,
) -> dict[str, Any]:
    assert server.stdout
    port = json.loads(await server.stdout.readline())["port"]
    control = Link(*await asyncio.open_connection("127.0.0.1", port))
    ids = {f"r{k}": [f"r{k}-p{i}" for i in range(MEMBERS)] for k in range(rooms)}
    for room, members in ids.items():
        await control.call("policy", room=room, members=members)
    node = [server.pid, *await control.call("pids")]
    for k, members in enumerate(ids.values()):
        clients.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                MEDIA_BENCH,
                "--client",
                str(port),
                ",".join(members),
                str(k),
                clip_file,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                limit=1 << 26,
            )
        )
    for proc in clients:
        assert proc.stdout and json.loads(await proc.stdout.readline())["published"]
    t0 = time.time() + warmup
    t1 = t0 + window
    for proc in clients:
        assert proc.stdin
        proc.stdin.write((json.dumps({"t0": t0, "t1": t1}) + "\n").encode())
    await asyncio.sleep(max(0.0, t0 - time.time()))
    load = [p.pid for p in clients]
    server0, workers0, load0 = cpu_seconds(node[:1]), cpu_seconds(node[1:]), cpu_seconds(load)
    if stall:
        await asyncio.sleep(max(0.0, t0 + window / 2 - time.time()))
        await control.call("stall", seconds=stall)
    await asyncio.sleep(max(0.0, t1 - time.time()))
    server1, workers1, load1 = cpu_seconds(node[:1]), cpu_seconds(node[1:]), cpu_seconds(load)
    reports = [json.loads(await proc.stdout.readline()) for proc in clients if proc.stdout]
    for proc in clients:
        assert proc.stdin
        proc.stdin.write(b"bye\n")
        await proc.wait()
    await control.call("quit")
    await server.wait()
    control.task.cancel()
    return summarize(workers, rooms, ids, window, reports) | {
        "node_cores": (server1 - server0) / window,
        "worker_cores": (workers1 - workers0) / window,
        "load_cores": (load1 - load0) / window,
    }


def summarize(
    workers: int, rooms: int, ids: dict[str, list[str]], seconds: float, reports: list[dict[str, Any]]
) -> dict[str, Any]:
    def table(part: str, kind: str) -> dict[tuple[str, ...], list[int]]:
        width = 3 if kind == "got" else 2
        return {tuple(row[:width]): row[width:] for r in reports for row in r[part][kind]}

    got0, got1 = table("first", "got"), table("last", "got")
    sent0, sent1 = table("first", "sent"), table("last", "sent")
    shares: dict[str, list[float]] = {"audio": [], "video": []}
    for members in ids.values():
        for s in members:
            for p in members:
                for kind in ("audio", "video") if p != s else ():
                    frames = got1.get((s, p, kind), [0, 0])[1] - got0.get((s, p, kind), [0, 0])[1]
                    sent = max(1, sent1[(p, kind)][0] - sent0[(p, kind)][0])
                    shares[kind].append(min(1.0, frames / sent))
    lat = sorted(x for r in reports for x in r["latencies"])
    return {
        "workers": workers,
        "rooms": rooms,
        "video_mean": 100 * statistics.mean(shares["video"]),
        "video_min": 100 * min(shares["video"]),
        "audio_mean": 100 * statistics.mean(shares["audio"]),
        "audio_min": 100 * min(shares["audio"]),
        "lat_p50": percentile(lat, 50),
        "lat_p99": percentile(lat, 99),
    }


COLUMNS = [
    ("W", 2, "workers", ""),
    ("K", 2, "rooms", ""),
    ("server", 7, "server_cores", ".3f"),
    ("node", 6, "node_cores", ".3f"),
    ("workers", 7, "worker_cores", ".3f"),
    ("per room", 8, "per_room", ".3f"),
    ("loadgen", 7, "load_cores", ".2f"),
    ("v mean%", 7, "video_mean", ".1f"),
    ("v min%", 6, "video_min", ".1f"),
    ("a mean%", 7, "audio_mean", ".1f"),
    ("a min%", 6, "audio_min", ".1f"),
    ("hop p50", 7, "lat_p50", ".1f"),
    ("hop p99", 7, "lat_p99", ".1f"),
    ("load", 5, "load", ".1f"),
]


async def main(args: argparse.Namespace) -> None:
    seam.enable_loopback_candidates()
    clip, clip_file, kbps = shared_clip("media_rooms_bench")
    print(describe())
    print(f"rooms of {MEMBERS}, each member publishing VP8 at {kbps:.0f} kbit/s and Opus, receiving the other 7")
    d50, d99 = await direct_latency(clip, 4.0)
    print(f"direct client->client video frame latency (no server): p50 {d50:.2f} ms, p99 {d99:.2f} ms\n")
    if args.stall:
        print(f"the node's event loop is blocked for {args.stall} s in the middle of each window")
    print(" ".join(f"{title:>{width}}" for title, width, _, _ in COLUMNS), flush=True)
    rows = []
    for workers in args.workers:
        for rooms in args.k:
            warmup = args.warmup + MEMBERS
            try:
                r = await asyncio.wait_for(
                    run(workers, rooms, clip_file, warmup, args.window, args.stall),
                    warmup + args.window + SETUP_SECONDS,
                )
            except Exception as exc:
                print(f"{workers:>2} {rooms:>2}  did not complete ({type(exc).__name__}): connections not up in time")
                continue
            r["server_cores"] = r["node_cores"] + r["worker_cores"]
            r["per_room"] = r["server_cores"] / rooms
            r["load"] = os.getloadavg()[0]
            rows.append(r)
            print(" ".join(f"{r[key]:>{width}{fmt}}" for _, width, key, fmt in COLUMNS), flush=True)
    print("\ncolumns: W = media workers (0: the engine in the node's process); K = rooms; server = CPU cores of the")
    print("node process and its workers (node, workers: each part); per room = server / K; loadgen = the client")
    print("processes' own CPU on the same machine; v/a mean%, min% = frames delivered per stream, mean and worst")
    print("stream, % of frames sent; hop = publisher -> subscriber video frame latency through the server, ms")
    print("(hash-matched); load = 1-minute load average after the run.")
    for workers in args.workers:
        ok = [r for r in rows if r["workers"] == workers and min(r["video_mean"], r["audio_mean"]) >= GOAL]
        best = max(ok, key=lambda r: r["rooms"], default=None)
        if best is None:
            least = min((r for r in rows if r["workers"] == workers), key=lambda r: r["rooms"])
            print(
                f"W={workers}: no K tried kept >= {GOAL:.0f}% delivery (K={least['rooms']}: server "
                f"{least['server_cores']:.2f} cores, load generator {least['load_cores']:.2f} cores beside it)"
            )
        else:
            print(
                f"W={workers}: carried K={best['rooms']} rooms at >= {GOAL:.0f}% delivery on {os.cpu_count()} cores "
                f"(server {best['server_cores']:.2f} cores, load generator {best['load_cores']:.2f} cores beside it)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stall", type=float, default=0.0, help="block the node's loop this long mid-window")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 2, 4, 6], help="concurrent rooms")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="media workers (0: in-process)")
    parser.add_argument("--window", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring, plus 8 (joins, keyframes)")
    ns = parser.parse_args()
    if ns.serve is not None:
        quiet_gc()  # as `hearth serve` runs
        import uvloop

        uvloop.install()
        asyncio.run(serve(ns.serve))
    else:
        asyncio.run(main(ns))
