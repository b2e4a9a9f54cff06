"""A node's or the store's fault, injected into real processes: the session goes on elsewhere or as before.

Nodes are ``hearth serve`` processes on Redis (``tests.multinode.nodes``); clients are ``Follower``s,
which find the node holding their session and follow it, as the web client does. Defaults are the
shipped ones unless a test says why not.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from server.redis_keys import RedisKeys
from tests.faults.session_checks import Heartbeat
from tests.hardening.helpers import make_room
from tests.harness import running_server
from tests.multinode.nodes import Node, api
from tests.multinode.test_failover import group_on
from tests.redis_server import PrivateRedis, delete_prefix, shared_url, unique_prefix

pytestmark = [pytest.mark.slow, pytest.mark.redis]

FAILOVER_PROMISE = 5.0  # seconds from a node's death to its sessions served elsewhere, with the defaults


@pytest_asyncio.fixture
async def prefix() -> AsyncIterator[str]:
    chosen = unique_prefix()
    yield chosen
    client = aioredis.Redis.from_url(shared_url())
    await delete_prefix(client, chosen)
    await client.aclose()


async def test_a_killed_node_s_session_is_served_elsewhere_within_five_seconds(prefix: str) -> None:
    a, b = Node(shared_url(), prefix, None), Node(shared_url(), prefix, None)  # the default lease
    try:
        await asyncio.gather(a.ready(), b.ready())
        session_id, facilitator, members = await group_on(a, [b.url], ["Ana", "Ben", "Cleo"])
        everyone = [facilitator, *members]
        assert (await members[0].ask("hand.raise"))["ok"]
        killed_at = time.monotonic()
        a.kill()
        while not all(c.url == b.url and c.reconnects for c in everyone):
            assert time.monotonic() - killed_at < FAILOVER_PROMISE, [(c.url, c.reconnects) for c in everyone]
            await asyncio.sleep(0.05)
        _, state = await api("GET", f"{b.url}/api/sessions/{session_id}")
        assert state["queue"] == [members[0].id]  # the state came along
        beat = Heartbeat(members[1]).start()  # type: ignore[arg-type]  # a Follower acts like a Client
        await beat.stop()
        beat.assert_prompt()
        assert (await facilitator.ask("end"))["ok"]
        for client in everyone:
            await client.wait_for("session.ended", lambda _: True, timeout=5)
            await client.close()
    finally:
        a.stop()
        b.stop()


async def test_a_node_that_wakes_from_a_pause_never_overwrites_the_new_holder(prefix: str) -> None:
    """Fencing: a node frozen past its lease (a VM paused, a GC storm) wakes to find another node
    serving its session. Its writes are refused by the store and its clients are sent on."""
    quick_pings = ("--ping-interval", "1", "--ping-timeout", "1")  # clients notice the frozen node quickly
    a, b = Node(shared_url(), prefix, None, *quick_pings), Node(shared_url(), prefix, None, *quick_pings)
    redis = aioredis.Redis.from_url(shared_url())
    try:
        await asyncio.gather(a.ready(), b.ready())
        session_id, facilitator, members = await group_on(a, [b.url], ["Ana", "Ben"])
        a.process.send_signal(signal.SIGSTOP)
        everyone = [facilitator, *members]
        async with asyncio.timeout(20):
            while not all(c.url == b.url and c.reconnects for c in everyone):
                await asyncio.sleep(0.05)
        assert (await members[0].ask("hand.raise"))["ok"]
        assert (await facilitator.ask("phase.next"))["ok"]
        key = RedisKeys(prefix).session(session_id)
        before = int(await redis.hget(key, "version"))
        a.process.send_signal(signal.SIGCONT)  # a wakes: its sockets time out, its session's state changes
        await asyncio.sleep(3.0)  # a's lease renewal (every second) and its sockets' timeouts have run
        after = int(await redis.hget(key, "version"))
        _, state = await api("GET", f"{b.url}/api/sessions/{session_id}")
        assert after >= before and state["version"] == after, (before, after, state["version"])
        assert state["queue"] == [members[0].id] and state["phase"]["index"] == 1  # b's changes stand
        lease = await api("GET", f"{a.url}/api/sessions/{session_id}/where")
        assert lease == (200, {"url": b.url})
        assert (await facilitator.ask("end"))["ok"]
        for client in everyone:
            await client.close()
    finally:
        if a.process.poll() is None:
            a.process.send_signal(signal.SIGCONT)
        a.stop()
        b.stop()
        await redis.aclose()


async def test_a_redis_restart_leaves_the_live_session_working() -> None:
    with PrivateRedis() as redis:
        async with running_server(media=False, redis_url=redis.url) as server:
            room = await make_room(server, members=3)
            beat = Heartbeat(room.members[0]).start()
            redis.restart()  # every key is gone: the node serves from memory and writes back
            assert (await room.members[1].ask("hand.raise"))["ok"]
            newcomer = await server.join(room.id, "Nia")
            assert (await room.facilitator.ask("admit", {"id": newcomer.id}))["ok"]
            await beat.stop()
            beat.assert_prompt()
            client = aioredis.Redis.from_url(redis.url)
            try:
                async with asyncio.timeout(5):
                    while not await client.exists(RedisKeys().session(room.id)):
                        await asyncio.sleep(0.05)
            finally:
                await client.aclose()
            assert (await room.facilitator.ask("end"))["ok"]


async def test_a_node_stops_within_ten_seconds_even_with_its_store_hung(prefix: str) -> None:
    """SIGTERM while Redis answers nothing (SIGSTOP: a partition, not a refusal): the node tells its
    clients to move on and exits in time; it never waits for the store past its share."""
    with PrivateRedis() as redis:
        node = Node(redis.url, prefix, None)
        try:
            await node.ready()
            _session_id, facilitator, members = await group_on(node, [], ["Ana", "Ben"])
            assert redis.process is not None
            redis.process.send_signal(signal.SIGSTOP)
            asking = asyncio.ensure_future(members[0].ask("hand.raise"))  # its save hangs
            await asyncio.sleep(0.5)
            stopped_at = time.monotonic()
            node.process.send_signal(signal.SIGTERM)
            await asyncio.get_running_loop().run_in_executor(None, node.process.wait, 12)
            took = time.monotonic() - stopped_at
            assert took < 10.0, took
            for client in [facilitator, *members]:
                assert client.received["moved"] == [{"url": ""}]  # told, before the socket closed
                await client.close()
            asking.cancel()
        finally:
            if redis.process is not None:
                redis.process.send_signal(signal.SIGCONT)
            node.stop()
