"""Failover time: kill -9 the node holding a live session, time until every client is back on another.

Two nodes share one Redis (the shared 127.0.0.1:6379 under a throwaway key prefix). Each round
creates a session with a facilitator and three members on the holding node, kills that node with
SIGKILL, and measures until all four clients are connected to the surviving node (which took the
session over from Redis); the killed node is then restarted for the next round. Prints p50/p95.

    .venv/bin/python bench/failover_bench.py [--kills 20] [--lease-ttl SECONDS (default: as shipped)]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis.asyncio as aioredis

from server.config import Settings
from tests.multinode.nodes import Follower, Node, api
from tests.redis_server import delete_prefix, shared_url, unique_prefix


async def one_round(holder: Node, spare: Node) -> float:
    _, created = await api("POST", f"{holder.url}/api/sessions", title="bench", requires_agreement=False)
    sid = created["id"]
    clients = [Follower(created["facilitator_token"], [holder.url, spare.url])]
    await clients[0].connect()
    for i in range(3):
        _, invite = await api("POST", f"{holder.url}/api/sessions/{sid}/invites", name=f"m{i}")
        member = Follower(invite["token"], [holder.url, spare.url])
        await member.connect()
        await clients[0].ask("admit", {"id": member.id})
        clients.append(member)
    killed = time.monotonic()
    holder.kill()
    while not all(c.url == spare.url and c.reconnects for c in clients):
        if time.monotonic() - killed > 30:
            raise RuntimeError("failover took over 30 s")
        await asyncio.sleep(0.02)
    took = time.monotonic() - killed
    for c in clients:
        await c.close()
    return took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--lease-ttl", type=float, default=Settings().lease_ttl)
    args = parser.parse_args()
    url, prefix = shared_url(), unique_prefix()
    nodes = [Node(url, prefix, args.lease_ttl), Node(url, prefix, args.lease_ttl)]
    times: list[float] = []
    try:
        await asyncio.gather(*(n.ready() for n in nodes))
        for i in range(args.kills):
            holder, spare = nodes[i % 2], nodes[(i + 1) % 2]
            times.append(await one_round(holder, spare))
            print(f"kill {i + 1:2}: clients back on the other node after {times[-1]:.2f} s", flush=True)
            nodes[i % 2] = Node(url, prefix, args.lease_ttl)
            await nodes[i % 2].ready()
    finally:
        for n in nodes:
            n.stop()
        client = aioredis.Redis.from_url(url)
        await delete_prefix(client, prefix)
        await client.aclose()
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"failover over {len(times)} kills (lease ttl {args.lease_ttl:g} s): "
        f"p50 {statistics.median(times):.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
