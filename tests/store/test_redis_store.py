"""What only the Redis store has to prove: TTLs on every key, one slot per session, races between
separate clients, the on-Redis formats, and the write-back after Redis lost its data."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis.asyncio as aioredis
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.crc import key_slot

from rooms.codec import session_to_dict
from rooms.model import Session
from server.redis_keys import RedisKeys
from server.redis_store import RedisStore
from signaling.store import AuditRecord, SessionStore, StaleVersion
from tests.redis_server import delete_prefix, shared_url, unique_prefix


def as_session_store(store: RedisStore) -> SessionStore:
    """Never called: mypy checks here that RedisStore satisfies the SessionStore protocol."""
    return store


def a_session(session_id: str = "s1", version: int = 0) -> Session:
    return Session(id=session_id, title="Tuesday group", created_at=1000.0, version=version)


async def ttls(store: RedisStore) -> dict[str, int]:
    """PTTL of every key under the store's prefix (-1 would mean: no TTL, kept forever)."""
    keys = [k async for k in store.client.scan_iter(match=store.keys.pattern())]
    return {k.decode(): int(await store.client.pttl(k)) for k in keys}


async def use_every_kind_of_key(store: RedisStore, session_id: str) -> None:
    await store.create(a_session(session_id))
    saved = a_session(session_id, version=1)
    await store.save(saved, expected_version=0)
    await store.acquire_lease(session_id, "node-a", "http://a", 30)
    await store.revoke(session_id, "m", 600)
    await store.append_audit(AuditRecord(session_id, 1.0, "f", "admit", "m"), 600)


async def test_every_redis_key_carries_a_ttl(redis_store: RedisStore) -> None:
    await use_every_kind_of_key(redis_store, "s1")
    await redis_store.restore(a_session("lost", version=4))
    found = await ttls(redis_store)
    assert len(found) == 5
    assert all(ttl > 0 for ttl in found.values()), found


async def test_expire_leaves_no_key_without_a_ttl_and_then_no_key_at_all(redis_store: RedisStore) -> None:
    await use_every_kind_of_key(redis_store, "s1")
    await redis_store.release_lease("s1", "node-a")
    await redis_store.expire("s1", 0.3)
    found = await ttls(redis_store)
    assert set(found) == {
        redis_store.keys.session("s1"),
        redis_store.keys.revoked("s1"),
        redis_store.keys.audit("s1"),
    }
    assert all(0 < ttl <= 300 for ttl in found.values()), found
    async with asyncio.timeout(5):  # Redis expires them by its own clock: wait for that, not a guess at it
        while await ttls(redis_store):
            await asyncio.sleep(0.05)


async def test_all_keys_of_a_session_share_one_cluster_slot() -> None:
    keys = RedisKeys("hearth:").of_session("a5f0c2")
    assert len({key_slot(k.encode()) for k in keys}) == 1
    assert keys[0] == "hearth:session:{a5f0c2}"


def test_a_prefix_with_braces_is_refused() -> None:
    with pytest.raises(ValueError, match="braces"):
        RedisKeys("hearth:{x}:")


async def test_session_body_is_json_of_the_codec_dict(redis_store: RedisStore) -> None:
    session = a_session()
    await redis_store.create(session)
    stored = await redis_store.client.hgetall(redis_store.keys.session("s1"))
    assert json.loads(stored[b"body"]) == session_to_dict(session)
    assert stored[b"version"] == b"0"


async def test_lease_value_is_json_of_node_and_url(redis_store: RedisStore) -> None:
    await redis_store.acquire_lease("s1", "node-a", "http://a:8080", 0.5)
    key = redis_store.keys.lease("s1")
    assert json.loads(await redis_store.client.get(key) or b"") == {
        "node_id": "node-a",
        "url": "http://a:8080",
    }
    assert 0 < await redis_store.client.pttl(key) <= 500


async def test_audit_stream_is_capped_near_its_maxlen() -> None:
    store = RedisStore.from_url(shared_url(), prefix=unique_prefix(), audit_maxlen=10)
    try:
        for i in range(400):
            await store.append_audit(AuditRecord("s1", float(i), "f", "nod"), 60)
        records = await store.audit("s1")
        assert len(records) < 400
        assert records[-1].at == 399.0
    finally:
        await delete_prefix(store.client, store.keys.prefix)
        await store.close()


async def test_two_nodes_racing_for_a_lease_exactly_one_wins_every_time(redis_store: RedisStore) -> None:
    other = RedisStore.from_url(shared_url(), prefix=redis_store.keys.prefix)
    try:
        for _ in range(100):
            session_id = uuid.uuid4().hex
            a, b = await asyncio.gather(
                redis_store.acquire_lease(session_id, "node-a", "http://a", 10),
                other.acquire_lease(session_id, "node-b", "http://b", 10),
            )
            assert a.node_id == b.node_id, (a, b)
            held = await other.lease(session_id)
            assert held is not None and held.node_id == a.node_id
    finally:
        await other.close()


async def test_two_nodes_racing_to_create_exactly_one_succeeds(redis_store: RedisStore) -> None:
    other = RedisStore.from_url(shared_url(), prefix=redis_store.keys.prefix)
    try:
        for i in range(20):
            results = await asyncio.gather(
                redis_store.create(a_session(f"s{i}")),
                other.create(a_session(f"s{i}")),
                return_exceptions=True,
            )
            assert sorted(type(r).__name__ for r in results) == ["Conflict", "NoneType"]
    finally:
        await other.close()


async def test_restore_writes_back_a_session_redis_lost(redis_store: RedisStore) -> None:
    session = a_session(version=7)
    with pytest.raises(StaleVersion):
        await redis_store.save(session, expected_version=6)
    assert await redis_store.restore(session)
    assert await redis_store.load("s1") == session
    session.version = 8
    await redis_store.save(session, expected_version=7)


async def test_restore_replaces_an_older_version_but_never_a_newer_one(redis_store: RedisStore) -> None:
    await redis_store.create(a_session(version=3))
    assert await redis_store.restore(a_session(version=5))
    assert not await redis_store.restore(a_session(version=5))
    assert not await redis_store.restore(a_session(version=4))
    assert (stored := await redis_store.load("s1")) is not None and stored.version == 5


async def test_store_works_with_a_client_that_decodes_responses() -> None:
    store = RedisStore(aioredis.Redis.from_url(shared_url(), decode_responses=True), prefix=unique_prefix())
    try:
        await use_every_kind_of_key(store, "s1")
        assert (await store.load("s1")) == a_session(version=1)
        assert (lease := await store.lease("s1")) is not None and lease.node_id == "node-a"
        assert await store.audit("s1") == [AuditRecord("s1", 1.0, "f", "admit", "m")]
    finally:
        await delete_prefix(store.client, store.keys.prefix)
        await store.close()


async def test_save_gives_a_key_without_ttl_the_state_ttl(redis_store: RedisStore) -> None:
    """A key written by hand (an operator's repair) must not live forever once Hearth saves it."""
    key = redis_store.keys.session("s1")
    await redis_store.client.hset(key, mapping={"version": "0", "body": "{}"})
    await redis_store.save(a_session(version=1), expected_version=0)
    assert await redis_store.client.pttl(key) > 3600 * 1000


async def test_sentinel_url_names_sentinels_service_password_and_db() -> None:
    store = RedisStore.from_url("redis+sentinel://:s%40cret@10.0.0.1:26380,10.0.0.2/mymaster/2")
    try:
        assert store._sentinel is not None
        hosts = [s.connection_pool.connection_kwargs for s in store._sentinel.sentinels]
        assert [(h["host"], h["port"]) for h in hosts] == [("10.0.0.1", 26380), ("10.0.0.2", 26379)]
        assert isinstance(store.client, aioredis.Redis)
        pool = store.client.connection_pool
        assert isinstance(pool, SentinelConnectionPool)
        assert pool.service_name == "mymaster"
        assert (pool.connection_kwargs["password"], pool.connection_kwargs["db"]) == ("s@cret", 2)
    finally:
        await store.close()


def test_sentinel_url_without_a_service_is_refused() -> None:
    with pytest.raises(ValueError, match="service"):
        RedisStore.from_url("redis+sentinel://10.0.0.1:26379")
