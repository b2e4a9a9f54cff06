"""Redis going away under a running node: restarts are ridden out, outages fail fast and clearly.

Each test owns a private ``redis-server`` (never the shared one) that it SIGKILLs and restarts on
the same port. With no persistence the data is gone after the restart, as after a crash of a
cache-only Redis; the node writes its state back with ``restore``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rooms.model import Session
from server.redis_store import RedisStore, StoreUnavailable
from signaling.store import StaleVersion
from tests.redis_server import PrivateRedis, PrivateSentinel


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with PrivateRedis() as server:
        yield server


def a_session(version: int = 0) -> Session:
    return Session(id="s1", title="Tuesday group", created_at=1000.0, version=version)


async def test_store_reconnects_after_redis_is_killed_and_restarted(private_redis: PrivateRedis) -> None:
    store = RedisStore.from_url(private_redis.url)
    try:
        await store.create(a_session())
        session = a_session(version=1)
        await store.save(session, expected_version=0)
        private_redis.restart()
        await store.ping()
        assert await store.load("s1") is None
        session.version = 2
        with pytest.raises(StaleVersion):
            await store.save(session, expected_version=1)
        assert await store.restore(session)
        session.version = 3
        await store.save(session, expected_version=2)
        assert (await store.lease("s1")) is None
        assert (await store.acquire_lease("s1", "node-a", "http://a", 10)).node_id == "node-a"
    finally:
        await store.close()


async def test_call_during_a_restart_is_retried_until_redis_is_back(private_redis: PrivateRedis) -> None:
    store = RedisStore.from_url(private_redis.url)
    try:
        await store.create(a_session())
        private_redis.kill()
        comeback = threading.Timer(0.5, private_redis.start)
        comeback.start()
        started = time.monotonic()
        await store.create(a_session())  # the data went with the old process: no conflict
        assert time.monotonic() - started >= 0.4
        comeback.join()
        assert await store.load("s1") == a_session()
    finally:
        await store.close()


async def test_call_to_a_dead_redis_raises_store_unavailable_quickly(private_redis: PrivateRedis) -> None:
    store = RedisStore.from_url(private_redis.url, retries=3, backoff_cap=0.1)
    try:
        await store.ping()
        private_redis.kill()
        started = time.monotonic()
        for call in (store.ping(), store.load("s1"), store.acquire_lease("s1", "a", "http://a", 5)):
            with pytest.raises(StoreUnavailable):
                await call
        assert time.monotonic() - started < 3
    finally:
        await store.close()


async def test_a_hung_redis_raises_store_unavailable_within_op_timeout(private_redis: PrivateRedis) -> None:
    """SIGSTOP: the socket stays open but nothing answers, the case socket timeouts exist for."""
    import signal

    store = RedisStore.from_url(private_redis.url, socket_timeout=0.2, retries=50, op_timeout=1.0)
    assert private_redis.process is not None
    try:
        await store.ping()
        private_redis.process.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.save(a_session(1), expected_version=0)
        assert time.monotonic() - started < 2
    finally:
        private_redis.process.send_signal(signal.SIGCONT)
        await store.close()


async def test_sentinel_url_reaches_the_master(private_redis: PrivateRedis, tmp_path: Path) -> None:
    with PrivateSentinel(private_redis, str(tmp_path)) as sentinel:
        store = RedisStore.from_url(sentinel.url)
        try:
            await store.create(a_session())
            assert await store.load("s1") == a_session()
            await asyncio.wait_for(store.ping(), 2)
        finally:
            await store.close()
