"""Where a forwarded packet's server CPU goes, measured inside ``media_bench.py``'s Hearth server.

``media_bench.py --breakdown`` installs this in its server process; the product code is unchanged
(the seam's receive callback is wrapped, and for a sampled packet one of its calls). Received RTP
packets are sampled in turn, each sample timing one thing only, in thread CPU time
(``time.thread_time_ns``: time the scheduler gave the clients is not counted), so a timed part is
never inflated by the timing of another:

- ``packet``: the whole socket callback of a received RTP packet (all of the parts below);
- ``unprotect``: libsrtp on that packet;
- ``protect``: libsrtp on each copy sent;
- ``sendto``: the ``sendto`` of each copy (on loopback the kernel also runs the receiving client's
  UDP stack and wakes it, charged to the sender).

With the compiled path (``server/media/_fastpath.c``, the default) the socket callback itself is C
(SRTP unprotect, header, statistics, NACK bookkeeping) and calls the source's Python, which makes one
C call for all copies (sequence rewriting, RTP header, protect, ``sendto``). Two parts are timed:

- ``packet``: the whole socket callback, as above;
- ``outlets``: ``_fastpath.fan_out`` (every copy of the packet, all of it in C);

and ``receive`` is what is left: the compiled receive with its SRTP unprotect, plus the source's Python.

Half the packets are not timed at all. What is left of ``packet`` after the three is the Python of
the packet path (header, statistics, NACK bookkeeping, audio level, fan-out, sequence rewriting, RTP
header); the process's CPU less ``packet`` is everything outside the packet path (event-loop
wake-ups, uvloop's receive, RTCP, ICE consent, timers, and the probes' own small cost).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from server.media import sink
from server.media.seam import compiled, send
from server.media.seam.inbound import InboundTrack
from server.media.seam.receive import LeanReceiver

PARTS = ("packet", "outlets") if sink.COMPILED else ("packet", "unprotect", "protect", "sendto")
CYCLE = 8  # of every 8 received packets, 4 are timed, one part each; 4 run untouched
now = time.thread_time_ns


def timer_cost() -> float:
    """Nanoseconds one ``thread_time_ns`` reading adds to the interval it closes."""
    gaps = []
    for _ in range(2000):
        start = now()
        gaps.append(now() - start)
    return statistics.median(gaps)


class Probe:
    """Sums per part; ``report`` turns them into seconds for all received packets."""

    def __init__(self) -> None:
        self.cost = timer_cost()
        self.reset()

    def reset(self) -> None:
        self.received = 0  # lean-path RTP packets, timed or not
        self.ns = dict.fromkeys(PARTS, 0.0)  # net of the timer, summed over the samples of that part
        self.samples = dict.fromkeys(PARTS, 0)

    def timed(self, part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function``, adding each call's time to ``part`` (several calls can make one sample)."""
        ns, cost = self.ns, self.cost

        def timed(*args: Any) -> Any:
            start = now()
            try:
                return function(*args)
            finally:
                ns[part] += now() - start - cost

        return timed

    def report(self) -> dict[str, float]:
        """Seconds for all received packets per part; ``packet`` less the others is the Python."""
        total = {p: self.ns[p] / self.samples[p] * self.received if self.samples[p] else 0.0 for p in PARTS}
        seconds = {p: total[p] / 1e9 for p in PARTS}
        rest = "receive" if sink.COMPILED else "python"
        seconds[rest] = max(0.0, total["packet"] - sum(total[p] for p in PARTS if p != "packet")) / 1e9
        return seconds


class _TimedSocket:
    """Stands in for a ``LeanSender``'s socket during one sampled packet: times each ``sendto``."""

    def __init__(self, sock: Any, timed: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        self._sock = sock
        self.sendto = timed(sock.sendto)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


# The call each part times, as (owner, attribute) for a receiver: swapped for a timed one per sample.
TIMED_CALLS: dict[str, Callable[[LeanReceiver], tuple[Any, str]]] = {
    "unprotect": lambda receiver: (receiver, "_unprotect"),
    "outlets": lambda receiver: (compiled.BUILT, "fan_out"),
    "protect": lambda receiver: (send, "_srtp_protect"),
}


@contextmanager
def replaced(owner: Any, name: str, value: Any) -> Iterator[None]:
    """``owner.name`` is ``value`` inside the block, and what it was again after it."""
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def install(probe: Probe) -> None:
    """Wrap the seam's receive callback; call before any connection exists."""
    hook = LeanReceiver._hook

    def timed_hook(receiver: LeanReceiver, original: Any) -> Any:
        inner, by_ssrc = hook(receiver, original), receiver._by_ssrc

        def datagram_received(data: bytes, addr: Any) -> None:
            track = by_ssrc.get(data[8:12])
            if track is None or not 127 < data[0] < 192 or 191 < data[1] < 224:
                inner(data, addr)  # STUN, DTLS, RTCP, an SSRC not known yet
                return
            turn = probe.received % CYCLE
            probe.received += 1
            if turn >= len(PARTS):
                inner(data, addr)
                return
            part = PARTS[turn]
            probe.samples[part] += 1
            if part == "packet":
                probe.timed("packet", inner)(data, addr)
            elif part in TIMED_CALLS:
                owner, name = TIMED_CALLS[part](receiver)
                with replaced(owner, name, probe.timed(part, getattr(owner, name))):
                    inner(data, addr)
            else:
                with_timed_sockets(track, lambda: inner(data, addr))

        return datagram_received

    def with_timed_sockets(track: InboundTrack, run: Callable[[], None]) -> None:
        leans = [sink.lean for sink in getattr(track.consumer, "sinks", ())]
        socks = [lean.sock for lean in leans]
        for lean, sock in zip(leans, socks, strict=True):
            if sock is not None:
                lean.sock = _TimedSocket(sock, lambda f: probe.timed("sendto", f))
        run()
        for lean, sock in zip(leans, socks, strict=True):
            if isinstance(lean.sock, _TimedSocket):
                lean.sock = sock  # unless the send cleared it (a closed socket)

    LeanReceiver._hook = timed_hook  # type: ignore[method-assign]
