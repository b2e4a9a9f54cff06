"""Connections that have not authenticated yet: each lives a few seconds at most, and only a few per address.

An Engine.IO connection costs the server a socket, buffers and a ping task before the client says who
it is (its Socket.IO CONNECT with a join token). Without a bound, a script holding a thousand such
connections open slows every real member's events. The gate counts each connection from its
Engine.IO handshake until its first successful Socket.IO connect, refuses a handshake past the
per-address cap, and closes a connection still unauthenticated when its time runs out.

New handshakes are also paced (``HandshakePacer``): a thousand arriving at once from many addresses
would otherwise be upgraded in a handful of event-loop turns, and a member's event queued behind them
waits a tenth of a second or more. Paced, each turn of the loop carries a few handshakes at most.

The gate owns both the cap and the pacer, and answers each handshake with one decision
(``Admitted``, ``Wait``, ``Refused``): the Engine.IO hook (``signaling.sockets.HearthServer``) only
obeys it, so the cap is checked in one place, and a refused handshake never takes a pacer slot.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

Close = Callable[[str], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Admitted:
    """Go on to the upgrade now."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Go on after ``seconds`` (the pacer's slot); the time to authenticate starts after it."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Refused:
    """Refuse the handshake (Engine.IO answers 401 with ``reason``); nothing was counted for it."""

    reason: str


Decision = Admitted | Wait | Refused


class HandshakePacer:
    """At most ``per_second`` handshakes go on to their WebSocket upgrade; the rest wait their slot.

    A slot is reserved at arrival (first come, first served), so waiting costs a sleeping task and
    nothing else. Ordinary arrivals (a session's members reconnecting after a node moves) are well
    under the rate and never wait.
    """

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0  # loop time of the next free slot

    def reserve(self) -> float:
        """Take the next slot: how many seconds to wait for it (0 when the rate is not reached)."""
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot - now


class UnauthenticatedGate:
    """Counts unauthenticated connections per address, closes those that outstay ``timeout``, and
    paces new ones at ``handshakes_per_second`` in all."""

    def __init__(self, timeout: float, per_address: int, handshakes_per_second: float, close: Close) -> None:
        self.timeout, self.per_address, self._close = timeout, per_address, close
        self.pacer = HandshakePacer(handshakes_per_second)
        self._pending: dict[str, tuple[str, asyncio.TimerHandle]] = {}  # engine.io sid -> (address, timer)
        self._by_address: Counter[str] = Counter()
        self._closing: set[asyncio.Task[None]] = set()

    def arrive(self, eio_sid: str, address: str) -> Decision:
        """A new handshake: refused when this address already holds its share of unauthenticated
        connections; otherwise counted from now, and admitted now or after its wait for the pacer."""
        if self._by_address[address] >= self.per_address:
            return Refused("too many unauthenticated connections from this address")
        wait = self.pacer.reserve()
        timer = asyncio.get_running_loop().call_later(wait + self.timeout, self._expire, eio_sid)
        self._pending[eio_sid] = (address, timer)
        self._by_address[address] += 1
        return Wait(wait) if wait > 0 else Admitted()

    def authenticated(self, eio_sid: str) -> None:
        """The connection passed its connect handler: no longer counted, never closed by the gate."""
        self.leave(eio_sid)

    def leave(self, eio_sid: str) -> None:
        entry = self._pending.pop(eio_sid, None)
        if entry is None:
            return
        address, timer = entry
        timer.cancel()
        self._by_address[address] -= 1
        if self._by_address[address] <= 0:
            del self._by_address[address]

    def pending(self, address: str | None = None) -> int:
        """Unauthenticated connections open now (from ``address``, or in all)."""
        return len(self._pending) if address is None else self._by_address.get(address, 0)

    def _expire(self, eio_sid: str) -> None:
        if eio_sid in self._pending:
            self.leave(eio_sid)
            task = asyncio.get_running_loop().create_task(self._close(eio_sid))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
