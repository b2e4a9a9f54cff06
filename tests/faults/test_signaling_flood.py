"""Strangers' connections: many that never authenticate, and guessed operator keys.

The server is a real ``hearth serve`` process with the shipped defaults; the flood runs in a process
of its own (``tests/faults/flood.py``); the member whose answers are timed runs in the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.config import Settings
from tests.faults.session_checks import quantile
from tests.harness import OPERATOR_KEY, Client, Harness
from tests.web.hearth_process import ROOT, start_server

pytestmark = pytest.mark.slow

DEFAULTS = Settings()
QUIET_CALLS = 50  # the member's answers timed before the flood: the same run's baseline
# Seconds the flood may add to the member's p99 answer time, over the same run's figure without it.
# Measured 2026-12-07 on a slow host (the bench's reference loop at 3x its usual time): 5-8 ms alone,
# 7-17 ms under the flood; with a whole test run sharing the 2 cores, 35 ms to 2.9 s (the machine,
# not the gate). A gate that let strangers hold the loop (a lock, a blocking call per socket) adds
# seconds.
FLOOD_ALLOWANCE = 0.25


async def flood(url: str, count: int, addresses: int, seconds: float, per_second: float = 0) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.faults.flood",
        url,
        str(count),
        str(addresses),
        str(seconds),
        str(per_second),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out, _ = await process.communicate()
    result: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def timed_acks(member: Client, *, calls: int = 0, until: asyncio.Future[Any] | None = None) -> list[float]:
    """A member raising and lowering a hand every 60 ms (within the event rate limit), ``calls``
    times or while ``until`` runs; how long each answer took."""
    latencies: list[float] = []
    raised = False
    while (until is not None and not until.done()) or len(latencies) < calls:
        started = time.monotonic()
        reply = await member.sio.call("hand.lower" if raised else "hand.raise", {}, timeout=10)
        latencies.append(time.monotonic() - started)
        assert reply["ok"], reply
        raised = not raised
        await asyncio.sleep(0.06)
    return latencies


async def test_a_thousand_unauthenticated_sockets_leave_a_member_s_acks_quick(tmp_path: Path) -> None:
    """The member's answers are timed without the flood and then under it, in the same run: every one
    comes, and the flood adds at most ``FLOOD_ALLOWANCE`` to their p99 (a slow machine slows both)."""
    server = start_server(tmp_path, ("--no-media",), operator_key=OPERATOR_KEY)
    try:
        async with aiohttp.ClientSession() as http:
            harness = Harness(server.base, None, http)  # type: ignore[arg-type]  # a harness for a process
            session = await harness.create_session(requires_agreement=False, admission="open")
            await harness.connect(session["facilitator_token"])
            member = await harness.join(session["id"], "Ana")
            quiet = await timed_acks(member, calls=QUIET_CALLS)
            # From fifty addresses: each stays within the per-address cap, so all thousand are accepted,
            # and each is closed when its time to authenticate runs out.
            spread = asyncio.ensure_future(flood(server.base, 1000, 50, DEFAULTS.auth_timeout + 3))
            flooded = await timed_acks(member, until=spread)
            for client in harness.clients:
                await client.close()
        result = spread.result()
        assert result["accepted"] == 1000, result
        assert result["closed_by_server"] == 1000, result
        assert float(result["longest_life"]) < DEFAULTS.auth_timeout + 1.5, result  # type: ignore[arg-type]
        calm, crowded = quantile(quiet, 0.99), quantile(flooded, 0.99)
        print(f"\nthe member's p99 ack: {1000 * calm:.1f} ms alone, {1000 * crowded:.1f} ms under the flood")
        assert crowded < calm + FLOOD_ALLOWANCE, (calm, sorted(flooded)[-10:])
        # From one address: the cap holds, the rest are refused at the handshake.
        crowd = await flood(server.base, 1000, 1, 2.0)
        assert crowd["most_open_per_address"] == DEFAULTS.max_unauthenticated_per_address, crowd
        assert crowd["refused"] == 1000 - DEFAULTS.max_unauthenticated_per_address, crowd
    finally:
        server.stop()


async def test_guessed_operator_keys_are_throttled_by_address(tmp_path: Path) -> None:
    server = start_server(tmp_path, ("--no-media",), operator_key=OPERATOR_KEY)
    try:
        guesser = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=guesser) as http:
            statuses = []
            for i in range(300):
                headers = {"Authorization": f"Bearer guess-{i}"}
                async with http.post(f"{server.base}/api/sessions", json={"title": "x"}, headers=headers) as r:
                    statuses.append(r.status)
            assert statuses[:10] == [403] * 10 and set(statuses[10:]) == {429}, statuses[:15]
            right = {"Authorization": f"Bearer {OPERATOR_KEY}"}  # even the right key waits, from there
            async with http.post(f"{server.base}/api/sessions", json={"title": "x"}, headers=right) as r:
                assert r.status == 429
        async with aiohttp.ClientSession() as http:  # the clinic's own address is not affected
            right = {"Authorization": f"Bearer {OPERATOR_KEY}"}
            async with http.post(f"{server.base}/api/sessions", json={"title": "x"}, headers=right) as r:
                assert r.status == 201
    finally:
        server.stop()
