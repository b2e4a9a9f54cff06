"""Random sequences of store calls give the same answers from MemoryStore and RedisStore.

The contract tests pin the cases we thought of; this one lets Hypothesis look for the ones we did
not (a save after a release, a lease re-taken by its holder with a new URL...). TTLs are long here,
so expiry never interferes: that part is pinned by the contract tests with real waiting.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rooms.model import Session
from server.memory_store import MemoryStore
from server.redis_store import RedisStore
from signaling.store import AuditRecord, Lease
from tests.redis_server import delete_prefix, shared_url, unique_prefix
from tests.store.conftest import FakeClock

Store = MemoryStore | RedisStore
Call = tuple[Any, ...]

sessions, nodes, people = st.sampled_from("ab"), st.sampled_from(["n1", "n2"]), st.sampled_from("pq")
versions = st.integers(min_value=0, max_value=3)

calls: st.SearchStrategy[Call] = st.one_of(
    st.tuples(st.just("create"), sessions, st.sampled_from(["x", "y"])),
    st.tuples(st.just("save"), sessions, versions, st.sampled_from(["x", "y", "z"])),
    st.tuples(st.just("load"), sessions),
    st.tuples(st.just("acquire_lease"), sessions, nodes, st.sampled_from(["http://1", "http://2"])),
    st.tuples(st.just("renew_lease"), sessions, nodes),
    st.tuples(st.just("release_lease"), sessions, nodes),
    st.tuples(st.just("lease"), sessions),
    st.tuples(st.just("revoke"), sessions, people),
    st.tuples(st.just("is_revoked"), sessions, people),
    st.tuples(st.just("append_audit"), sessions, st.sampled_from(["admit", "mute"]), st.none() | people),
    st.tuples(st.just("audit"), sessions),
)


def _comparable(result: object) -> object:
    """Leases differ only in ``expires_at`` (two clocks); everything else must match exactly."""
    return (result.node_id, result.url) if isinstance(result, Lease) else result


async def perform(store: Store, call: Call) -> object:
    name, session_id, *rest = call
    try:
        match name:
            case "create":
                await store.create(Session(id=session_id, title=rest[0], created_at=1.0))
            case "save":
                session = Session(id=session_id, title=rest[1], created_at=1.0, version=rest[0] + 1)
                await store.save(session, expected_version=rest[0])
            case "acquire_lease":
                return _comparable(await store.acquire_lease(session_id, rest[0], rest[1], 60))
            case "renew_lease":
                return await store.renew_lease(session_id, rest[0], 60)
            case "revoke":
                await store.revoke(session_id, rest[0], 60)
            case "append_audit":
                await store.append_audit(AuditRecord(session_id, 1.5, "f", rest[0], rest[1]), 60)
            case _:
                return _comparable(await getattr(store, name)(session_id, *rest))
    except Exception as exc:
        return type(exc).__name__
    return None


async def both_answer_alike(script: list[Call]) -> None:
    memory = MemoryStore(FakeClock())
    redis = RedisStore.from_url(shared_url(), prefix=unique_prefix())
    try:
        for step, call in enumerate(script):
            expected, got = await perform(memory, call), await perform(redis, call)
            assert got == expected, f"step {step} {call}: memory {expected!r}, redis {got!r}"
    finally:
        await delete_prefix(redis.client, redis.keys.prefix)
        await redis.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(calls, min_size=1, max_size=25))
def test_memory_and_redis_stores_answer_every_call_sequence_alike(script: list[Call]) -> None:
    asyncio.run(both_answer_alike(script))
