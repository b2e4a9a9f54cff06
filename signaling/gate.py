"""Connections that have not authenticated yet: each lives a few seconds at most, and only a few per address.

An Engine.IO connection costs the server a socket, buffers and a ping task before the client says who
it is (its Socket.IO CONNECT with a join token). Without a bound, a script holding a thousand such
connections open slows every real member's events. The gate counts each connection from its
Engine.IO handshake until its first successful Socket.IO connect, refuses a handshake past the
per-address cap, and closes a connection still unauthenticated when its time runs out.

New handshakes are also paced (``HandshakePacer``): a thousand arriving at once from many addresses
would otherwise be upgraded in a handful of event-loop turns, and a member's event queued behind them
waits a tenth of a second or more. Paced, each turn of the loop carries a few handshakes at most.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

Close = Callable[[str], Coroutine[Any, Any, None]]


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
    def __init__(self, timeout: float, per_address: int, close: Close) -> None:
        self.timeout, self.per_address, self._close = timeout, per_address, close
        self._pending: dict[str, tuple[str, asyncio.TimerHandle]] = {}  # engine.io sid -> (address, timer)
        self._by_address: Counter[str] = Counter()
        self._closing: set[asyncio.Task[None]] = set()

    def arrive(self, eio_sid: str, address: str, wait: float = 0.0) -> bool:
        """A new handshake: False when this address already holds its share of unauthenticated connections.

        ``wait``: how long the pacer holds it before its upgrade; its time to authenticate starts after.
        """
        if self._by_address[address] >= self.per_address:
            return False
        timer = asyncio.get_running_loop().call_later(wait + self.timeout, self._expire, eio_sid)
        self._pending[eio_sid] = (address, timer)
        self._by_address[address] += 1
        return True

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
