"""Store throughput: operations per second of MemoryStore and RedisStore under concurrent callers.

Run from the repository root: ``python -m bench.store_bench [--redis-url URL] [--seconds 2]``.
Each operation runs for a bounded time with ``--concurrency`` coroutines, each on its own session
(as nodes hold different sessions), except ``load`` and ``is_revoked`` which share one session, as
the members of one group do. Redis keys go under a throwaway prefix that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rooms.model import Participant, Role, Session, Status
from server.memory_store import MemoryStore
from server.redis_store import RedisStore
from signaling.store import AuditRecord

Store = MemoryStore | RedisStore
Op = Callable[[int], Awaitable[object]]


@dataclass(frozen=True)
class Result:
    store: str
    op: str
    ops_per_second: float
    p50_ms: float
    p99_ms: float


def group_session(session_id: str) -> Session:
    """A realistic body: a full group of twelve, so load/save move a representative payload."""
    session = Session(id=session_id, title="Bench group", created_at=time.time())
    for i in range(12):
        role = Role.FACILITATOR if i == 0 else Role.MEMBER
        session.participants[f"p{i}"] = Participant(f"p{i}", f"Person {i}", role, Status.ADMITTED)
    return session


async def measure(op: Op, concurrency: int, seconds: float) -> tuple[float, list[float]]:
    """Run ``op(worker)`` in a loop from ``concurrency`` workers until ``seconds`` have passed."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(index: int) -> None:
        while (started := time.perf_counter()) < deadline:
            await op(index)
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return len(latencies) / (time.perf_counter() - began), latencies


async def operations(store: Store, concurrency: int) -> dict[str, Op]:
    """Set up the sessions, leases and revocations the operations work on."""
    sessions = [group_session(f"bench-{i}") for i in range(concurrency)]
    for session in sessions:
        await store.create(session)
        await store.acquire_lease(session.id, f"node-{session.id}", "http://bench", 60)
    await store.revoke("bench-0", "p3", 60)

    async def save(i: int) -> None:
        sessions[i].version += 1
        await store.save(sessions[i], expected_version=sessions[i].version - 1)

    def audit_record(i: int) -> AuditRecord:
        return AuditRecord(f"bench-{i}", time.time(), "p0", "mute", "p3")

    return {
        "load": lambda i: store.load("bench-0"),
        "save": save,
        "acquire_lease": lambda i: store.acquire_lease(f"bench-{i}", f"node-bench-{i}", "http://bench", 60),
        "renew_lease": lambda i: store.renew_lease(f"bench-{i}", f"node-bench-{i}", 60),
        "is_revoked": lambda i: store.is_revoked("bench-0", f"p{i % 12}"),
        "append_audit": lambda i: store.append_audit(audit_record(i), 60),
    }


async def bench_store(name: str, store: Store, concurrency: int, seconds: float) -> list[Result]:
    results = []
    for op_name, op in (await operations(store, concurrency)).items():
        rate, latencies = await measure(op, concurrency, seconds)
        cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
        results.append(Result(name, op_name, rate, cuts[49] * 1000, cuts[98] * 1000))
        print(
            f"{name:<7} {op_name:<14} {rate:>10,.0f} ops/s  p50 {cuts[49] * 1000:6.2f} ms"
            f"  p99 {cuts[98] * 1000:6.2f} ms",
            flush=True,
        )
    return results


async def run(redis_url: str | None, concurrency: int, seconds: float) -> list[Result]:
    results = await bench_store("memory", MemoryStore(time.time), concurrency, seconds)
    if redis_url is None:
        return results
    prefix = f"hearth-bench-{uuid.uuid4().hex}:"
    store = RedisStore.from_url(redis_url, prefix=prefix)
    try:
        await store.ping()
        results += await bench_store("redis", store, concurrency, seconds)
    finally:
        keys = [key async for key in store.client.scan_iter(match=store.keys.pattern(), count=1000)]
        for start in range(0, len(keys), 500):
            await store.client.delete(*keys[start : start + 500])
        await store.close()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="'' for memory only")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=2.0, help="run time of each operation")
    args = parser.parse_args(argv)
    print(f"concurrency {args.concurrency}, {args.seconds:g} s per operation")
    asyncio.run(run(args.redis_url or None, args.concurrency, args.seconds))


if __name__ == "__main__":
    main()
