"""The ``SessionStore`` contract: ``MemoryStore`` and ``RedisStore`` must behave alike.

Every test here runs once per store (see ``conftest.harness``). Expiry is tested with short TTLs:
the memory store's clock is advanced, Redis is waited for in real time.
"""

from __future__ import annotations

import asyncio

import pytest

from rooms.errors import Conflict
from rooms.model import Breakout, Participant, Role, Session, SideRoom, Status
from server.memory_store import MemoryStore
from server.redis_store import StoreUnavailable
from signaling.store import AuditRecord, LeaseLost, StaleVersion
from tests.store.conftest import FakeClock, Harness

SHORT = 0.3  # seconds: a lease or key TTL short enough to wait out in a test
SETTLE = 0.15  # seconds past a TTL after which the key must be gone


def a_session(session_id: str = "s1") -> Session:
    session = Session(id=session_id, title="Tuesday group", created_at=1000.0)
    session.participants["f"] = Participant("f", "Facilitator", Role.FACILITATOR, Status.ADMITTED)
    session.participants["m"] = Participant("m", "Member", Role.MEMBER, waiting_since=1001.5)
    return session


async def test_created_session_loads_back_equal(harness: Harness) -> None:
    session = a_session()
    await harness.store.create(session)
    assert await harness.store.load("s1") == session


async def test_where_everyone_is_loads_back(harness: Harness) -> None:
    """Places are state: a node that takes the session over puts everyone back where they were."""
    session = a_session()
    session.participants["c"] = Participant("c", "Co", Role.COFACILITATOR, Status.ADMITTED, place="side:m2")
    session.participants["m2"] = Participant("m2", "Aside", Role.MEMBER, Status.ADMITTED, place="side:m2")
    session.participants["m3"] = Participant("m3", "Pair", Role.MEMBER, Status.ADMITTED, place="group:1")
    session.participants["f"].place, session.participants["f"].listen_only = "group:1", True
    session.side_rooms["m2"] = SideRoom("m2", "c", since=1002.0, back_to="group:0")
    session.breakout = Breakout(groups=2, minutes=5, started_at=1001.0, ends_at=1301.0, warned=True)
    await harness.store.create(session)
    assert await harness.store.load("s1") == session


async def test_unknown_session_loads_as_none(harness: Harness) -> None:
    assert await harness.store.load("nobody") is None


async def test_loaded_session_is_a_copy_not_the_stored_state(harness: Harness) -> None:
    await harness.store.create(a_session())
    loaded = await harness.store.load("s1")
    assert loaded is not None
    loaded.title = "changed without saving"
    assert (await harness.store.load("s1")) == a_session()


async def test_creating_an_existing_id_conflicts(harness: Harness) -> None:
    await harness.store.create(a_session())
    with pytest.raises(Conflict):
        await harness.store.create(a_session())


async def test_save_with_the_stored_version_is_kept(harness: Harness) -> None:
    await harness.store.create(a_session())
    session = await harness.store.load("s1")
    assert session is not None
    session.title, session.version = "renamed", 1
    await harness.store.save(session, expected_version=0)
    assert await harness.store.load("s1") == session


async def test_save_with_a_stale_version_is_refused(harness: Harness) -> None:
    await harness.store.create(a_session())
    session = a_session()
    session.version = 1
    await harness.store.save(session, expected_version=0)
    session.title = "late writer"
    with pytest.raises(StaleVersion):
        await harness.store.save(session, expected_version=0)
    stored = await harness.store.load("s1")
    assert stored is not None and stored.title == "Tuesday group"


async def test_a_fenced_save_is_refused_unless_the_writer_holds_the_lease(harness: Harness) -> None:
    """Fencing: a node that paused past its lease cannot write, even with the right version."""
    await harness.store.create(a_session())
    session = a_session()
    session.version = 1
    await harness.store.acquire_lease("s1", "node-b", "http://b", 30.0)
    with pytest.raises(LeaseLost):
        await harness.store.save(session, expected_version=0, holder="node-a")
    with pytest.raises(LeaseLost):
        await harness.store.restore(session, holder="node-a")
    stored = await harness.store.load("s1")
    assert stored is not None and stored.version == 0
    await harness.store.save(session, expected_version=0, holder="node-b")  # the holder writes
    stored = await harness.store.load("s1")
    assert stored is not None and stored.version == 1


async def test_a_fenced_save_without_any_lease_is_refused(harness: Harness) -> None:
    """After a store restart (no lease), a write waits for the lease to be taken again."""
    await harness.store.create(a_session())
    session = a_session()
    session.version = 1
    with pytest.raises(LeaseLost):
        await harness.store.save(session, expected_version=0, holder="node-a")
    await harness.store.acquire_lease("s1", "node-a", "http://a", 30.0)
    assert await harness.store.restore(session, holder="node-a")


async def test_save_of_a_missing_session_is_refused(harness: Harness) -> None:
    with pytest.raises(StaleVersion):
        await harness.store.save(a_session("ghost"), expected_version=0)
    assert await harness.store.load("ghost") is None


async def test_of_two_concurrent_savers_exactly_one_wins(harness: Harness) -> None:
    other = await harness.other_node()
    await harness.store.create(a_session())
    node_a, node_b = harness.store, other
    mine, theirs = await asyncio.gather(node_a.load("s1"), node_b.load("s1"))
    assert mine is not None and theirs is not None
    mine.title, mine.version = "mine", 1
    theirs.title, theirs.version = "theirs", 1
    results = await asyncio.gather(
        node_a.save(mine, expected_version=0), node_b.save(theirs, expected_version=0), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert sum(isinstance(r, StaleVersion) for r in results) == 1
    stored = await harness.store.load("s1")
    assert stored is not None and stored.title == ("mine" if results[0] is None else "theirs")


async def test_free_lease_is_taken(harness: Harness) -> None:
    lease = await harness.store.acquire_lease("s1", "node-a", "http://a:8080", 10)
    assert (lease.session_id, lease.node_id, lease.url) == ("s1", "node-a", "http://a:8080")
    assert lease.expires_at == pytest.approx(harness.now() + 10, abs=0.5)


async def test_lease_reads_back_with_holder_and_expiry(harness: Harness) -> None:
    await harness.store.acquire_lease("s1", "node-a", "http://a:8080", 10)
    lease = await harness.store.lease("s1")
    assert lease is not None and (lease.node_id, lease.url) == ("node-a", "http://a:8080")
    assert lease.expires_at == pytest.approx(harness.now() + 10, abs=0.5)


async def test_second_node_gets_the_first_nodes_lease_back(harness: Harness) -> None:
    other = await harness.other_node()
    await harness.store.acquire_lease("s1", "node-a", "http://a:8080", 10)
    lease = await other.acquire_lease("s1", "node-b", "http://b:8080", 10)
    assert (lease.node_id, lease.url) == ("node-a", "http://a:8080")


async def test_holder_retakes_its_own_lease_with_a_new_expiry(harness: Harness) -> None:
    await harness.store.acquire_lease("s1", "node-a", "http://a:8080", 1)
    lease = await harness.store.acquire_lease("s1", "node-a", "http://a2:8080", 30)
    assert (lease.node_id, lease.url) == ("node-a", "http://a2:8080")
    assert lease.expires_at == pytest.approx(harness.now() + 30, abs=0.5)


async def test_only_the_holder_renews_a_lease(harness: Harness) -> None:
    other = await harness.other_node()
    await harness.store.acquire_lease("s1", "node-a", "http://a:8080", SHORT)
    assert not await other.renew_lease("s1", "node-b", 10)
    assert await harness.store.renew_lease("s1", "node-a", 10)
    await harness.wait(SHORT + SETTLE)
    lease = await harness.store.lease("s1")
    assert lease is not None and lease.node_id == "node-a"


async def test_a_lapsed_lease_cannot_be_renewed(harness: Harness) -> None:
    await harness.store.acquire_lease("s1", "node-a", "http://a:8080", SHORT)
    await harness.wait(SHORT + SETTLE)
    assert not await harness.store.renew_lease("s1", "node-a", 10)
    assert not await harness.store.renew_lease("never-leased", "node-a", 10)


async def test_only_the_holder_releases_a_lease(harness: Harness) -> None:
    other = await harness.other_node()
    await harness.store.acquire_lease("s1", "node-a", "http://a:8080", 10)
    await other.release_lease("s1", "node-b")
    assert (lease := await harness.store.lease("s1")) is not None and lease.node_id == "node-a"
    await harness.store.release_lease("s1", "node-a")
    assert await harness.store.lease("s1") is None
    taken = await other.acquire_lease("s1", "node-b", "http://b:8080", 10)
    assert taken.node_id == "node-b"


async def test_lease_lapses_after_its_ttl_and_another_node_takes_over(harness: Harness) -> None:
    other = await harness.other_node()
    await harness.store.acquire_lease("s1", "node-a", "http://a:8080", SHORT)
    await harness.wait(SHORT + SETTLE)
    assert await harness.store.lease("s1") is None
    taken = await other.acquire_lease("s1", "node-b", "http://b:8080", 10)
    assert taken.node_id == "node-b"


async def test_revocation_holds_until_its_ttl(harness: Harness) -> None:
    other = await harness.other_node()
    await harness.store.revoke("s1", "m", SHORT)
    assert await other.is_revoked("s1", "m")
    await harness.wait(SHORT + SETTLE)
    assert not await harness.store.is_revoked("s1", "m")


async def test_revocation_is_per_participant_and_per_session(harness: Harness) -> None:
    await harness.store.revoke("s1", "m", 10)
    assert await harness.store.is_revoked("s1", "m")
    assert not await harness.store.is_revoked("s1", "f")
    assert not await harness.store.is_revoked("s2", "m")


async def test_a_short_revocation_does_not_outlive_its_ttl_beside_a_long_one(harness: Harness) -> None:
    await harness.store.revoke("s1", "long", 10)
    await harness.store.revoke("s1", "short", SHORT)
    await harness.wait(SHORT + SETTLE)
    assert await harness.store.is_revoked("s1", "long")
    assert not await harness.store.is_revoked("s1", "short")


async def test_audit_reads_back_in_append_order(harness: Harness) -> None:
    other = await harness.other_node()
    records = [
        AuditRecord("s1", 1000.0 + i * 0.1, "f", action, target)
        for i, (action, target) in enumerate([("admit", "m"), ("mute", "m"), ("phase", None), ("remove", "m")])
    ]
    for record in records:
        await harness.store.append_audit(record, 60)
    assert await other.audit("s1") == records
    assert await harness.store.audit("s2") == []


async def test_audit_lapses_after_its_ttl(harness: Harness) -> None:
    await harness.store.append_audit(AuditRecord("s1", 1000.0, "f", "admit", "m"), SHORT)
    await harness.wait(SHORT + SETTLE)
    assert await harness.store.audit("s1") == []


async def test_expire_makes_every_key_of_the_session_go_away_after_its_ttl(harness: Harness) -> None:
    await harness.store.create(a_session())
    await harness.store.create(a_session("other"))
    await harness.store.revoke("s1", "m", 3600)
    await harness.store.append_audit(AuditRecord("s1", 1000.0, "f", "end"), 3600)
    await harness.store.expire("s1", 2 * SHORT)
    assert await harness.store.load("s1") is not None
    await harness.wait(2 * SHORT + SETTLE)
    assert await harness.store.load("s1") is None
    assert await harness.store.audit("s1") == []
    assert not await harness.store.is_revoked("s1", "m")
    assert await harness.store.load("other") is not None


async def test_expire_never_lengthens_a_revocation(harness: Harness) -> None:
    await harness.store.revoke("s1", "m", SHORT)
    await harness.store.expire("s1", 3600)
    await harness.wait(SHORT + SETTLE)
    assert not await harness.store.is_revoked("s1", "m")


async def test_ping_answers_when_the_store_is_reachable_and_raises_when_it_is_not(harness: Harness) -> None:
    """The readiness probe (``/readyz``): the memory store is in the process, always reachable; a Redis
    store must answer only while its server does, and say ``StoreUnavailable`` otherwise."""
    assert await harness.store.ping() is None
    if harness.unreachable is None:
        assert harness.kind == "memory"
        return
    dead = harness.unreachable()
    try:
        with pytest.raises(StoreUnavailable):
            await dead.ping()
    finally:
        await dead.close()


async def test_memory_store_keeps_no_key_of_an_expired_session() -> None:
    """The memory twin of the Redis TTL test below: ``keys()`` is what a privacy test inspects."""
    clock = FakeClock()
    store = MemoryStore(clock)
    await store.create(a_session())
    await store.append_audit(AuditRecord("s1", 1000.0, "f", "end"), 3600)
    await store.expire("s1", 1)
    clock.advance(1.01)
    assert store.keys() == []
