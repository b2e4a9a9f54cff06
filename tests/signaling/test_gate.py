"""The gate in front of unauthenticated connections: the per-address cap, the clock, the pacer."""

from __future__ import annotations

import asyncio
import itertools

from signaling.gate import HandshakePacer, UnauthenticatedGate


async def test_the_pacer_lets_a_trickle_through_and_queues_a_burst_in_arrival_order() -> None:
    pacer = HandshakePacer(per_second=100)
    waits = [pacer.reserve() for _ in range(5)]
    assert waits[0] == 0
    assert all(later > earlier for earlier, later in itertools.pairwise(waits))
    assert abs(waits[4] - 4 * 0.01) < 0.005  # one slot each, a hundredth of a second apart


async def test_a_connection_s_time_to_authenticate_starts_after_its_wait_for_the_pacer() -> None:
    closed: list[str] = []

    async def close(eio_sid: str) -> None:
        closed.append(eio_sid)

    gate = UnauthenticatedGate(timeout=0.01, per_address=2, close=close)
    assert gate.arrive("a", "10.0.0.1", wait=0.0)
    assert gate.arrive("b", "10.0.0.1", wait=60.0)
    assert not gate.arrive("c", "10.0.0.1")  # the address holds its share
    while not closed:
        await asyncio.sleep(0.01)
    assert closed == ["a"] and gate.pending("10.0.0.1") == 1  # b is still waiting its turn
    gate.authenticated("b")
    assert gate.pending() == 0
