"""Media workers (``--media-workers``): a worker's death is a media gap only, and a stall of the node's
event loop does not stop forwarding, which it does with the engine in the node's process.

Real parts: the app (in-process) or ``hearth serve`` (a process of its own where the test stalls or
kills the node), real worker processes, real aiortc members over the wire (``media_session``).
Members here publish again by themselves when the server's view says their publishing connection is
gone (their own ``stream_ids`` empty after they had published), as ``web/media-link.js`` does; their
receiving side follows the server's fresh offer (a new ICE ufrag: a new connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import psutil
import pytest
import pytest_asyncio

from server.keys import MEDIA
from signaling.ports import ForwardingPolicy
from tests.faults import media_session
from tests.faults.media_session import KINDS, LiveSession, Member, until
from tests.faults.session_checks import Heartbeat
from tests.harness import OPERATOR_KEY, Harness, running_server
from tests.multinode.nodes import ServeProcess

pytestmark = [pytest.mark.media, pytest.mark.slow]

clip = media_session.clip  # the fixture these tests take

ROOT = Path(__file__).resolve().parents[2]
BACK_WITHIN = 15.0  # seconds: a cap for failing only; media is back when the frames arrive again
STALL = 0.5  # seconds the node's event loop is blocked
MARGIN = 0.1  # seconds at each end of the stall not counted: what was in flight as it began or ended


class Republisher:
    """Publishes a member again whenever the server's view says their publishing connection is gone."""

    def __init__(self, member: Member) -> None:
        self.member = member
        self.since = member.wire.count("session.state")  # states before the last publish do not count
        self.republished = 0
        self._task = asyncio.get_running_loop().create_task(self._watch())

    def _dropped(self) -> bool:
        for state in self.member.wire.received["session.state"][self.since :]:
            me = next((p for p in state["participants"] if p["id"] == self.member.id), None)
            if me is not None and me["stream_ids"] == []:
                return True
        return False

    async def _watch(self) -> None:
        while True:
            if self._dropped():
                if self.member.publisher is not None:
                    await self.member.publisher.close()
                self.since = self.member.wire.count("session.state")
                await self.member.publish()  # acknowledged after the server marked us publishing
                self.since = self.member.wire.count("session.state")
                self.republished += 1
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Harness]:
    async with running_server(
        media=True, allow_loopback=True, grace_seconds=media_session.GRACE_SECONDS, media_workers=2
    ) as harness:
        yield harness


async def test_a_killed_worker_is_restarted_and_every_member_s_media_comes_back(
    server: Harness, clip: list[av.Packet]
) -> None:
    media: Any = server.app[MEDIA]
    workers = set(media.pids())
    assert len(workers) == 2
    async with LiveSession.running(server, ["Ana", "Ben"], clip) as live:
        republishers = [Republisher(m) for m in live.everyone.values()]
        victim = media.worker_of(live.session_id)
        assert victim in workers
        beat = Heartbeat(live.everyone["Ana"].wire).start()
        await asyncio.sleep(0.5)  # a few acts before the fault
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)

        def missing() -> list[tuple[str, str, str]]:
            return [
                (receiver.name, sender.name, kind)
                for receiver in live.everyone.values()
                for sender in live.everyone.values()
                if sender is not receiver
                for kind in KINDS
                if receiver.got(sender.stream, kind, since=killed) < 5
            ]

        await until(lambda: not missing() and all(r.republished for r in republishers), BACK_WITHIN, missing)
        await beat.stop()
        beat.assert_prompt()  # acks went on through the gap
        assert victim not in media.pids() and len(media.pids()) == 2  # a new process took its place
        assert not psutil.pid_exists(victim) or psutil.Process(victim).status() == psutil.STATUS_ZOMBIE
        for republisher in republishers:
            await republisher.stop()
        await live.assert_can_end()


async def test_a_gateway_call_to_a_killed_worker_fails_with_a_media_error_instead_of_hanging(
    server: Harness, clip: list[av.Packet]
) -> None:
    media: Any = server.app[MEDIA]
    async with LiveSession.running(server, ["Ana"], clip) as live:
        ana = live.everyone["Ana"]
        victim = media.worker_of(live.session_id)
        os.kill(victim, signal.SIGSTOP)  # stopped: the call is sent and waits for its answer
        try:
            call = asyncio.ensure_future(media.subscribe(live.session_id, ana.id))
            await asyncio.sleep(0.2)
            assert not call.done()
        finally:
            os.kill(victim, signal.SIGKILL)
        with pytest.raises(Exception) as raised:
            async with asyncio.timeout(5):
                await call
        assert type(raised.value).__name__ == "MediaError" and raised.value.code == "internal"  # type: ignore[attr-defined]
        await live.assert_can_end()


async def test_the_connection_gauge_counts_the_connections_the_workers_hold(
    server: Harness, clip: list[av.Packet]
) -> None:
    """``hearth_peer_connections`` is where a leak shows (the soak reads it): with the engine in worker
    processes it must count their connections, not the node's none."""

    async def gauge() -> float:
        async with server.http.get(f"{server.url}/metrics", headers=server.auth) as r:
            found = re.search(r"^hearth_peer_connections (\S+)$", await r.text(), re.MULTILINE)
        assert found, "no hearth_peer_connections in /metrics"
        return float(found.group(1))

    async def until_gauge(expected: int) -> None:
        seen: list[float] = []
        while not seen or seen[-1] != expected:
            assert len(seen) < 100, f"hearth_peer_connections never showed {expected}: {seen[-5:]}"
            await asyncio.sleep(0.1)  # the workers report once a second
            seen.append(await gauge())

    async with LiveSession.running(server, ["Ana", "Ben"], clip) as live:
        await live.until_everyone_receives_everyone()
        await until_gauge(2 * len(live.everyone))  # each publishes on one connection, receives on another
        await live.assert_can_end()
        await until_gauge(0)  # the session ended: its worker holds nothing


async def test_sessions_are_pinned_to_the_least_loaded_worker_and_stay_there(server: Harness) -> None:
    media: Any = server.app[MEDIA]
    policy = ForwardingPolicy(frozenset({"m-1"}), frozenset({"m-1"}))
    await media.set_policy("s-a", policy)
    await media.set_policy("s-b", policy)
    first, second = media.worker_of("s-a"), media.worker_of("s-b")
    assert {first, second} == set(media.pids())  # one each
    await media.set_policy("s-a", ForwardingPolicy())  # a session keeps its worker
    assert media.worker_of("s-a") == first
    await media.close_session("s-a")
    assert media.worker_of("s-a") is None
    await media.set_policy("s-c", policy)
    assert media.worker_of("s-c") == first  # the worker with fewer sessions now
    for session_id in ("s-b", "s-c"):
        await media.close_session(session_id)


# --- a node of its own: stalled, or killed -------------------------------------------------------------


class NodeProcess(ServeProcess):
    """``hearth serve`` with media (loopback candidates), the memory store and the test-only stall."""

    def __init__(self, workers: int) -> None:
        super().__init__(
            "--secret",
            "workers-secret-" + "z" * 32,
            "--operator-key",
            OPERATOR_KEY,
            "--allow-loopback",
            "--media-workers",
            str(workers),
            "--debug-endpoints",
            "--grace-seconds",
            "60",
            "--log-text",
        )

    def workers(self) -> list[int]:
        return [child.pid for child in psutil.Process(self.process.pid).children()]


@contextlib.asynccontextmanager
async def node(workers: int) -> AsyncIterator[tuple[NodeProcess, Harness]]:
    process = NodeProcess(workers)
    http = aiohttp.ClientSession()
    harness = Harness(process.url, None, http)  # type: ignore[arg-type]  # the app is in the other process
    try:
        await process.ready()
        yield process, harness
    finally:
        for client in harness.clients:
            await client.close()
        await http.close()
        process.stop()


async def stall(harness: Harness) -> tuple[float, float]:
    """Block the node's event loop for ``STALL`` seconds; the ``time.monotonic()`` readings around it."""
    async with harness.http.post(f"{harness.url}/debug/stall", json={"seconds": STALL}, headers=harness.auth) as r:
        assert r.status == 200, await r.text()
        body = await r.json()
    return body["started"], body["ended"]


def during(live: LiveSession, started: float, ended: float) -> dict[str, int]:
    """Packets each member received from each other member while the node's loop was blocked."""
    return {
        f"{receiver.name} <- {sender.name} {kind}": sum(
            1 for arrival, _ in receiver.frames[(sender.stream, kind)] if started + MARGIN <= arrival <= ended - MARGIN
        )
        for receiver in live.everyone.values()
        for sender in live.everyone.values()
        if sender is not receiver
        for kind in KINDS
    }


@pytest.mark.parametrize("workers", [1, 0])
async def test_a_stall_of_the_node_s_event_loop_stops_forwarding_only_without_workers(
    workers: int, clip: list[av.Packet]
) -> None:
    async with node(workers) as (_, harness), LiveSession.running(harness, ["Ana"], clip) as live:
        await live.until_everyone_receives_everyone()
        started, ended = await stall(harness)
        assert ended - started >= STALL
        await live.until_everyone_receives_everyone()  # and after the stall, in any case
        await until(
            lambda: all(
                m.got(s.stream, "audio", since=ended) for m in live.everyone.values() for s in live.others(m.name)
            )
        )
        got = during(live, started, ended)
        if workers:
            assert all(got.values()), f"a stream stopped while the node's loop was blocked: {got}"
        else:
            assert not any(got.values()), f"packets forwarded by a blocked loop? {got}"
        await live.assert_can_end()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
async def test_no_worker_outlives_its_node(how: signal.Signals) -> None:
    process = NodeProcess(2)
    try:
        await process.ready()
        workers = process.workers()
        assert len(workers) == 2
        process.process.send_signal(how)
        process.process.wait(10)
        await until(lambda: not any(_alive(pid) for pid in workers), timeout=10)
    finally:
        process.stop()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
