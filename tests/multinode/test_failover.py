"""Several nodes on one real Redis: redirects, failover after kill -9, lease races, Redis restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from server.redis_store import RedisStore
from tests.multinode.nodes import Follower, Node, api
from tests.redis_server import PrivateRedis, delete_prefix, shared_url, unique_prefix

pytestmark = pytest.mark.slow  # node processes killed and Redis restarted: seconds per test


@pytest_asyncio.fixture
async def two_nodes() -> AsyncIterator[tuple[Node, Node]]:
    url, prefix = shared_url(), unique_prefix()
    a, b = Node(url, prefix), Node(url, prefix)
    try:
        await asyncio.gather(a.ready(), b.ready())
        yield a, b
    finally:
        a.stop()
        b.stop()
        client = aioredis.Redis.from_url(url)
        await delete_prefix(client, prefix)
        await client.aclose()


async def group_on(node: Node, others: list[str], names: list[str]) -> tuple[str, Follower, list[Follower]]:
    status, created = await api("POST", f"{node.url}/api/sessions", title="Thursday group", requires_agreement=False)
    assert status == 201, created
    session_id = created["id"]
    facilitator = Follower(created["facilitator_token"], [node.url, *others])
    await facilitator.connect()
    members = []
    for name in names:
        _, invite = await api("POST", f"{node.url}/api/sessions/{session_id}/invites", name=name)
        member = Follower(invite["token"], [node.url, *others])
        await member.connect()
        assert (await facilitator.ask("admit", {"id": member.id}))["ok"]
        members.append(member)
    return session_id, facilitator, members


async def test_session_created_on_one_node_is_joined_via_the_other_by_redirect(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    session_id, facilitator, _ = await group_on(a, [], [])
    _, invite = await api("POST", f"{b.url}/api/sessions/{session_id}/invites", name="Ana")
    status, where = await api("GET", f"{b.url}/api/sessions/{session_id}/where", invite["token"])
    assert (status, where) == (200, {"url": a.url})
    ana = Follower(invite["token"], [b.url])
    await ana.connect(b.url)  # straight at the wrong node: refused with `moved`, then follows
    assert ana.refusals == [{"code": "moved", "message": ana.refusals[0]["message"], "url": a.url}]
    assert ana.url == a.url
    lobby = await facilitator.wait_for("lobby", lambda data: any(w["id"] == ana.id for w in data["waiting"]))
    assert lobby["waiting"][0]["name"] == "Ana"
    for client in (facilitator, ana):
        await client.close()


async def test_killing_the_holder_moves_the_session_with_its_state(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    session_id, facilitator, members = await group_on(a, [b.url], ["Ana", "Ben", "Cleo", "Dev"])
    ana, ben, cleo, dev = members
    assert (await facilitator.ask("phase.next"))["ok"]
    assert (await ben.ask("hand.raise"))["ok"]
    assert (await cleo.ask("hand.raise"))["ok"]
    assert (await facilitator.ask("floor.next"))["ok"]
    assert (await facilitator.ask("mute", {"id": ana.id}))["ok"]
    assert (await facilitator.ask("remove", {"id": dev.id}))["ok"]
    _, before = await api("GET", f"{a.url}/api/sessions/{session_id}")
    survivors = [facilitator, ana, ben, cleo]

    killed_at = time.monotonic()
    a.kill()
    while not all(c.url == b.url and c.reconnects for c in survivors):
        assert time.monotonic() - killed_at < 5.0, [(c.url, c.reconnects) for c in survivors]
        await asyncio.sleep(0.05)
    failover = time.monotonic() - killed_at
    status, after = await api("GET", f"{b.url}/api/sessions/{session_id}")
    assert status == 200
    assert after["phase"]["index"] == before["phase"]["index"] == 1
    assert after["queue"] == before["queue"] == [cleo.id]
    assert after["floor"]["holder"] == before["floor"]["holder"] == ben.id
    roster = {p["id"]: p for p in after["participants"]}
    assert {pid: p["status"] for pid, p in roster.items()} == {p["id"]: p["status"] for p in before["participants"]}
    assert roster[ana.id]["forced_mute"] is True
    assert roster[dev.id]["status"] == "removed"
    assert all(roster[c.id]["connected"] for c in survivors)
    with pytest.raises(Exception):  # noqa: B017 - the refusal is checked below
        await dev.connect(b.url)
    assert dev.refusals[-1]["code"] == "forbidden"  # removed: the revocation followed the session
    print(f"failover took {failover:.2f}s")
    for client in survivors:
        await client.close()


async def test_two_nodes_racing_for_the_same_lease_agree_on_one_holder(two_nodes: tuple[Node, Node]) -> None:
    a, b = two_nodes
    winners: dict[str, int] = {a.url: 0, b.url: 0}
    for _ in range(100):
        _, created = await api("POST", f"{a.url}/api/sessions", title="race", requires_agreement=False)
        path = f"/api/sessions/{created['id']}/where"
        answers = await asyncio.gather(api("GET", a.url + path), api("GET", b.url + path))
        urls = {body["url"] for _, body in answers}
        assert len(urls) == 1, answers  # both nodes name the same single holder
        winners[urls.pop()] += 1
    assert sum(winners.values()) == 100


async def test_redis_restart_keeps_the_live_session_and_writes_it_back() -> None:
    prefix = unique_prefix()
    with PrivateRedis() as private:
        node = Node(private.url, prefix)
        try:
            await node.ready()
            session_id, facilitator, members = await group_on(node, [], ["Ana"])
            private.kill()
            acks: list[dict[str, Any]] = []
            acks.append(await facilitator.sio.call("phase.next", {}, timeout=30))  # type: ignore[union-attr]
            private.start()
            acks.append(await facilitator.sio.call("lock", {}, timeout=30))  # type: ignore[union-attr]
            assert all(ack["ok"] for ack in acks), acks
            store = RedisStore.from_url(private.url, prefix=prefix)
            deadline = time.monotonic() + 10
            stored = None
            while time.monotonic() < deadline:
                stored = await store.load(session_id)
                if stored is not None and stored.locked and stored.phase_index == 1:
                    break
                await asyncio.sleep(0.2)
            assert stored is not None and stored.phase_index == 1 and stored.locked
            await members[0].wait_for("session.state", lambda s: s["phase"]["index"] == 1 and s["locked"])
            assert facilitator.sio is not None and facilitator.sio.connected
            assert members[0].sio is not None and members[0].sio.connected
            await store.close()
            for client in (facilitator, *members):
                await client.close()
        finally:
            node.stop()


async def test_a_stopping_node_lets_go_of_its_sessions_before_it_tells_clients_to_move(
    two_nodes: tuple[Node, Node],
) -> None:
    """SIGTERM: by the time a member hears ``moved``, another node can take the session (no bounce back)."""
    a, b = two_nodes
    session_id, facilitator, [robin] = await group_on(a, [b.url], ["Robin"])
    assert robin.sio is not None
    heard: list[tuple[Any, tuple[int, Any]]] = []

    async def on_moved(data: Any) -> None:
        heard.append((data, await api("GET", f"{b.url}/api/sessions/{session_id}/where", robin.token)))

    robin.sio.on("moved", on_moved)
    await asyncio.get_running_loop().run_in_executor(None, a.stop)
    deadline = time.monotonic() + 10
    while not heard and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert heard and heard[0][0] == {"url": ""}
    assert heard[0][1] == (200, {"url": b.url})  # the lease was already free: b took the session
    await robin.wait_for("welcome", lambda w: True, timeout=15, since=1)
    assert robin.url == b.url
    await facilitator.close()
    await robin.close()
