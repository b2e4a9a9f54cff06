"""One harness per store kind, so the contract tests read the same for memory and Redis.

Memory runs on a fake clock that tests advance; Redis (the shared standalone server, a private
three-shard Cluster, and a private server reached only over TLS with a client certificate) runs on
real time with short TTLs, because Redis expires keys by its own clock.
``other_node`` gives a second store sharing the same state, as another Hearth node would: for Redis
a separate client (its own connection pool).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import pytest

from server.memory_store import MemoryStore
from server.redis_store import RedisStore
from server.redis_tls import RedisTls
from tests.redis_server import PrivateCluster, delete_prefix, free_port, shared_url, unique_prefix
from tests.store.tls_redis import TlsRedis

Store = MemoryStore | RedisStore


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    kind: str
    store: Store
    now: Callable[[], float]
    wait: Callable[[float], Awaitable[None]]
    other_node: Callable[[], Awaitable[Store]]
    prefix: str = ""
    opened: list[RedisStore] = field(default_factory=list)
    unreachable: Callable[[], RedisStore] | None = None  # the same kind of store where nothing listens


def memory_harness() -> Harness:
    clock = FakeClock()
    store = MemoryStore(clock)

    async def wait(seconds: float) -> None:
        clock.advance(seconds)

    async def same_store() -> Store:
        return store

    return Harness("memory", store, clock, wait, same_store)


def redis_harness(kind: str, url: str, tls: RedisTls | None = None) -> Harness:
    prefix = unique_prefix()
    opened: list[RedisStore] = []

    async def other_node() -> RedisStore:
        """Connected before it is handed out, so its first call is not slowed by cluster discovery."""
        opened.append(RedisStore.from_url(url, prefix=prefix, tls=tls))
        await opened[-1].ping()
        return opened[-1]

    def unreachable() -> RedisStore:
        """The same URL with a port nobody listens on, retrying briefly (readiness must say no soon)."""
        parts = urlsplit(url)
        dead = urlunsplit(parts._replace(netloc=f"{parts.hostname}:{free_port()}"))
        return RedisStore.from_url(dead, prefix=prefix, tls=tls, retries=1, backoff_cap=0.01)

    store = RedisStore.from_url(url, prefix=prefix, tls=tls)
    return Harness(kind, store, time.time, asyncio.sleep, other_node, prefix, opened, unreachable)


@pytest.fixture(scope="session")
def private_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateCluster]:
    """One throwaway three-shard cluster for the whole run: it takes a few seconds to form."""
    with PrivateCluster(str(tmp_path_factory.mktemp("cluster"))) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    """One redis-server reached only over TLS (with a CA and a client certificate) for the whole run."""
    with TlsRedis(tmp_path_factory.mktemp("tls-redis")) as server:
        yield server


# The Cluster and TLS kinds start Redis servers of their own (seconds): the fast loop runs memory and the shared Redis.
@pytest.fixture(
    params=[
        "memory",
        "redis",
        pytest.param("cluster", marks=pytest.mark.slow),
        pytest.param("tls", marks=pytest.mark.slow),
    ]
)
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        h = memory_harness()
    elif request.param == "redis":
        h = redis_harness("redis", shared_url())
    elif request.param == "cluster":
        h = redis_harness("cluster", request.getfixturevalue("private_cluster").url)
    else:
        server = request.getfixturevalue("tls_redis")
        h = redis_harness("tls", server.url, server.tls)
    yield h
    if h.kind == "redis":
        assert isinstance(h.store, RedisStore)
        await delete_prefix(h.store.client, h.prefix)
    for node in h.opened:
        await node.close()
    await h.store.close()


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisStore]:
    """A RedisStore on the shared Redis under a prefix of its own, cleaned up afterwards."""
    store = RedisStore.from_url(shared_url(), prefix=unique_prefix())
    yield store
    await delete_prefix(store.client, store.keys.prefix)
    await store.close()
