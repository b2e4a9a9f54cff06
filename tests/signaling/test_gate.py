"""The gate in front of unauthenticated connections: the per-address cap, the clock, the pacer."""

from __future__ import annotations

import asyncio
import itertools

from signaling.gate import Admitted, HandshakePacer, Refused, UnauthenticatedGate, Wait


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

    gate = UnauthenticatedGate(timeout=0.01, per_address=2, handshakes_per_second=1 / 60, close=close)
    assert gate.arrive("a", "10.0.0.1") == Admitted()
    b = gate.arrive("b", "10.0.0.1")  # the next slot is a minute away
    assert isinstance(b, Wait) and b.seconds > 50
    assert isinstance(gate.arrive("c", "10.0.0.1"), Refused)  # the address holds its share
    while not closed:
        await asyncio.sleep(0.01)
    assert closed == ["a"] and gate.pending("10.0.0.1") == 1  # b is still waiting its turn
    gate.authenticated("b")
    assert gate.pending() == 0


async def test_the_gate_decides_once_a_refusal_takes_no_slot_and_is_not_counted() -> None:
    async def close(eio_sid: str) -> None:
        raise AssertionError(f"{eio_sid} closed: nothing here outstays its time")

    gate = UnauthenticatedGate(timeout=60.0, per_address=1, handshakes_per_second=1 / 60, close=close)
    assert gate.arrive("a", "10.0.0.1") == Admitted()
    refused = gate.arrive("b", "10.0.0.1")
    assert isinstance(refused, Refused) and "address" in refused.reason
    assert gate.pending() == 1
    other = gate.arrive("c", "10.0.0.2")  # the refusal did not take the next slot: c has it, a minute on
    assert isinstance(other, Wait) and 50 < other.seconds <= 60
    gate.leave("a")
    assert isinstance(gate.arrive("d", "10.0.0.1"), Wait)  # a's place is free again; the pacer still paces
    for eio_sid in ("c", "d"):
        gate.leave(eio_sid)
    assert gate.pending() == 0
