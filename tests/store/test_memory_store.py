"""The embedded store: copies not references, versioned saves, leases, revocations, audit, TTLs.

Its clock is injected, so expiry is tested by moving a number, never by sleeping.
"""

from __future__ import annotations

import gc

import pytest

from rooms import commands as c
from rooms.controller import apply
from rooms.errors import Conflict
from server.memory_store import MemoryStore
from signaling.store import DEFAULT_STATE_TTL, MAX_AUDIT_RECORDS, AuditRecord, Lease, StaleVersion
from tests.rooms.helpers import FAC, live_group, new_session


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryStore:
    return MemoryStore(clock)


async def test_create_then_load_returns_an_equal_copy(store: MemoryStore) -> None:
    s = live_group()
    await store.create(s)
    loaded = await store.load(s.id)
    assert loaded == s and loaded is not s


async def test_create_refuses_an_existing_id(store: MemoryStore) -> None:
    await store.create(new_session())
    with pytest.raises(Conflict):
        await store.create(new_session())


async def test_load_unknown_is_none(store: MemoryStore) -> None:
    assert await store.load("nope") is None


async def test_the_store_keeps_copies_not_the_callers_objects(store: MemoryStore) -> None:
    s = live_group()
    await store.create(s)
    s.title = "changed after create"
    loaded = await store.load(s.id)
    assert loaded is not None and loaded.title == "Tuesday evening group"
    loaded.queue.append("ann")
    again = await store.load(s.id)
    assert again is not None and again.queue == []


async def test_save_is_compare_and_set_on_the_version(store: MemoryStore) -> None:
    s = live_group()
    await store.create(s)
    first = await store.load(s.id)
    second = await store.load(s.id)
    assert first is not None and second is not None
    expected = first.version
    apply(first, FAC, c.Lock(), 10.0)
    await store.save(first, expected)
    apply(second, FAC, c.NextPhase(), 11.0)
    with pytest.raises(StaleVersion):
        await store.save(second, expected)  # another writer got there first
    stored = await store.load(s.id)
    assert stored is not None and stored.locked and stored.phase_index == 0


async def test_stale_version_is_a_conflict_on_the_wire() -> None:
    assert issubclass(StaleVersion, Conflict) and StaleVersion.code == "conflict"


async def test_save_needs_a_created_session(store: MemoryStore) -> None:
    with pytest.raises(StaleVersion):
        await store.save(new_session(), 0)


async def test_sessions_expire_after_their_ttl(clock: Clock) -> None:
    store = MemoryStore(clock, state_ttl=100.0)
    await store.create(new_session())
    clock.now += 99.0
    assert await store.load("s1") is not None
    clock.now += 1.0
    assert await store.load("s1") is None
    with pytest.raises(StaleVersion):
        await store.save(new_session(), 0)
    await store.create(new_session())  # the id is free again
    assert DEFAULT_STATE_TTL == 24 * 3600.0


async def test_expire_shortens_everything_about_a_session(store: MemoryStore, clock: Clock) -> None:
    await store.create(new_session())
    await store.revoke("s1", "ann", ttl_seconds=10_000.0)
    await store.append_audit(AuditRecord("s1", clock.now, FAC, "end"), ttl_seconds=10_000.0)
    await store.expire("s1", 60.0)
    clock.now += 59.0
    assert await store.load("s1") is not None
    assert await store.is_revoked("s1", "ann")
    assert await store.audit("s1") != []
    clock.now += 1.0
    assert await store.load("s1") is None
    assert not await store.is_revoked("s1", "ann")
    assert await store.audit("s1") == []
    assert store.keys() == []


async def test_a_save_after_expire_keeps_the_shorter_life(store: MemoryStore, clock: Clock) -> None:
    s = live_group()
    await store.create(s)
    await store.expire(s.id, 60.0)
    version = s.version
    apply(s, FAC, c.End(), 1.0)
    await store.save(s, version)
    clock.now += 60.0
    assert await store.load(s.id) is None


async def test_lease_is_held_by_one_node_until_it_expires(store: MemoryStore, clock: Clock) -> None:
    lease = await store.acquire_lease("s1", "node-a", "http://a", ttl_seconds=10.0)
    assert lease == Lease("s1", "node-a", "http://a", clock.now + 10.0)
    other = await store.acquire_lease("s1", "node-b", "http://b", ttl_seconds=10.0)
    assert other == lease  # node-b learns where the session lives
    assert await store.lease("s1") == lease
    clock.now += 10.0
    assert await store.lease("s1") is None
    taken = await store.acquire_lease("s1", "node-b", "http://b", ttl_seconds=10.0)
    assert taken.node_id == "node-b"


async def test_lease_renewal_and_release_belong_to_the_holder(store: MemoryStore, clock: Clock) -> None:
    await store.acquire_lease("s1", "node-a", "http://a", ttl_seconds=10.0)
    assert not await store.renew_lease("s1", "node-b", 10.0)
    clock.now += 5.0
    assert await store.renew_lease("s1", "node-a", 10.0)
    lease = await store.lease("s1")
    assert lease is not None and lease.expires_at == clock.now + 10.0 and lease.url == "http://a"
    await store.release_lease("s1", "node-b")
    assert await store.lease("s1") is not None
    await store.release_lease("s1", "node-a")
    assert await store.lease("s1") is None
    assert not await store.renew_lease("s1", "node-a", 10.0)


async def test_an_expired_lease_cannot_be_renewed(store: MemoryStore, clock: Clock) -> None:
    await store.acquire_lease("s1", "node-a", "http://a", ttl_seconds=10.0)
    clock.now += 10.0
    assert not await store.renew_lease("s1", "node-a", 10.0)


async def test_reacquiring_our_own_lease_extends_it(store: MemoryStore, clock: Clock) -> None:
    await store.acquire_lease("s1", "node-a", "http://a", ttl_seconds=10.0)
    clock.now += 5.0
    lease = await store.acquire_lease("s1", "node-a", "http://a", ttl_seconds=10.0)
    assert lease.expires_at == clock.now + 10.0


async def test_revocation_lasts_its_ttl_and_is_per_session(store: MemoryStore, clock: Clock) -> None:
    await store.revoke("s1", "ann", ttl_seconds=30.0)
    assert await store.is_revoked("s1", "ann")
    assert not await store.is_revoked("s1", "bob")
    assert not await store.is_revoked("s2", "ann")
    clock.now += 30.0
    assert not await store.is_revoked("s1", "ann")


async def test_audit_keeps_who_did_what_in_order(store: MemoryStore, clock: Clock) -> None:
    first = AuditRecord("s1", 1.0, FAC, "admit", "ann")
    second = AuditRecord("s1", 2.0, FAC, "mute", "ann")
    await store.append_audit(first, ttl_seconds=100.0)
    await store.append_audit(second, ttl_seconds=100.0)
    await store.append_audit(AuditRecord("s2", 3.0, FAC, "lock"), ttl_seconds=100.0)
    assert await store.audit("s1") == [first, second]
    records = await store.audit("s1")
    records.clear()
    assert len(await store.audit("s1")) == 2


async def test_audit_keeps_the_newest_records_up_to_the_cap(store: MemoryStore) -> None:
    for n in range(MAX_AUDIT_RECORDS + 5):
        await store.append_audit(AuditRecord("s1", float(n), FAC, "lock"), ttl_seconds=100.0)
    records = await store.audit("s1")
    assert len(records) == MAX_AUDIT_RECORDS
    assert (records[0].at, records[-1].at) == (5.0, float(MAX_AUDIT_RECORDS + 4))


async def test_a_long_audit_log_is_invisible_to_the_cyclic_collector(store: MemoryStore) -> None:
    """Full GC pauses grow with tracked objects; audit rows are atomic tuples, which the collector untracks."""
    for n in range(100):
        await store.append_audit(AuditRecord("s1", float(n), FAC, "mute", "ann"), ttl_seconds=100.0)
    gc.collect()
    rows, _ = store._audit["s1"]
    assert not any(gc.is_tracked(row) for row in rows)


async def test_expired_audit_is_not_revived_by_a_later_record(store: MemoryStore, clock: Clock) -> None:
    await store.append_audit(AuditRecord("s1", 1.0, FAC, "admit", "ann"), ttl_seconds=10.0)
    clock.now += 10.0
    later = AuditRecord("s1", 2.0, FAC, "lock")
    await store.append_audit(later, ttl_seconds=10.0)
    assert await store.audit("s1") == [later]


async def test_keys_show_only_live_state_and_audit(store: MemoryStore, clock: Clock) -> None:
    await store.create(new_session())
    await store.append_audit(AuditRecord("s1", 1.0, FAC, "lock"), ttl_seconds=10.0)
    await store.revoke("s1", "ann", 10.0)
    assert sorted(store.keys()) == ["audit:s1", "session:s1"]
    clock.now += 10.0
    assert store.keys() == ["session:s1"]


async def test_ping_and_close_change_nothing_the_store_holds(store: MemoryStore) -> None:
    """The embedded store has no connection to probe or release: ping (the readiness probe) always
    answers, and neither it nor close touches a session, a lease, a revocation or the audit trail
    (a node's last requests during shutdown still read them)."""
    await store.create(new_session())
    await store.acquire_lease("s1", "node-a", "http://a", 30.0)
    await store.revoke("s1", "ann", 60.0)
    await store.append_audit(AuditRecord("s1", 1.0, FAC, "lock"), ttl_seconds=60.0)
    before = (store.keys(), await store.load("s1"), await store.lease("s1"), await store.audit("s1"))
    assert await store.ping() is None
    await store.close()
    after = (store.keys(), await store.load("s1"), await store.lease("s1"), await store.audit("s1"))
    assert after == before and before[2] is not None and before[3] != []
    assert await store.is_revoked("s1", "ann")


async def test_restore_writes_back_only_what_is_missing_or_older(store: MemoryStore, clock: Clock) -> None:
    s = live_group()
    assert await store.restore(s)  # missing: written
    loaded = await store.load(s.id)
    assert loaded == s
    assert not await store.restore(s)  # same version: left alone
    newer = await store.load(s.id)
    assert newer is not None
    version = newer.version
    apply(newer, FAC, c.Lock(), 5.0)
    await store.save(newer, version)
    assert not await store.restore(s)  # never overwrites a newer version
    stored = await store.load(s.id)
    assert stored is not None and stored.locked
    apply(s, FAC, c.Lock(), 5.0)
    apply(s, FAC, c.NextPhase(), 6.0)
    assert await store.restore(s)  # ours is newer now
    stored = await store.load(s.id)
    assert stored is not None and stored.phase_index == 1


async def test_restore_after_expiry_writes_again(clock: Clock) -> None:
    store = MemoryStore(clock, state_ttl=10.0)
    s = live_group()
    await store.create(s)
    clock.now += 10.0
    assert await store.restore(s)
    assert await store.load(s.id) == s


async def test_restore_keeps_an_existing_shorter_life(store: MemoryStore, clock: Clock) -> None:
    s = live_group()
    await store.create(s)
    await store.expire(s.id, 60.0)
    apply(s, FAC, c.End(), 5.0)
    assert await store.restore(s)
    clock.now += 60.0
    assert await store.load(s.id) is None
