"""What a weak home network does to one direction of a member's traffic, as pure rules (no I/O, no clock).

A ``Link`` is one direction (a member's uplink to the internet, or its downlink from it); it decides,
for each IP packet that reaches it at ``now``, whether the packet is lost and when it comes out.
The order follows a home connection: the packet first waits in the router's queue behind the rate
cap (drop-tail when the queue is full), then crosses the air or the line (random or bursty loss),
then takes the path's delay with jitter. An outage drops everything that enters it or would come out
during it. ``tests/net/emulator.py`` applies two Links to every packet (the sender's uplink, then
the receiver's downlink); the rules live here so they are tested without namespaces.
"""

from __future__ import annotations

import random
import socket
from collections import deque
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

DEFAULT_QUEUE_BYTES = 30_000  # a home router's drop-tail buffer: 0.6 s at 400 kbit/s, 25 full packets


@dataclass(frozen=True)
class Bursts:
    """Gilbert-Elliott loss: a good and a bad state, with the chance per packet of moving between them.

    The mean loss is ``enter / (enter + leave)`` times ``loss_bad`` (plus the good state's share);
    the mean burst is ``1 / leave`` packets.
    """

    enter: float  # good -> bad, per packet
    leave: float  # bad -> good, per packet
    loss_good: float = 0.0
    loss_bad: float = 1.0


@dataclass(frozen=True)
class Conditions:
    """One direction's impairments. The defaults are a clean link."""

    loss: float = 0.0  # random loss, per packet
    bursts: Bursts | None = None  # bursty loss instead of random
    delay_ms: float = 0.0
    jitter_ms: float = 0.0  # each packet's delay is delay_ms plus a uniform draw in [-jitter, +jitter]
    reorder: bool = True  # False: a packet never overtakes an earlier one (jitter then only bunches them)
    rate_kbps: float | None = None  # the cap; None: unlimited
    queue_bytes: int = DEFAULT_QUEUE_BYTES  # the router's queue in front of the cap
    # A firewall: None lets everything through; otherwise UDP only to (uplink) or from (downlink)
    # these "address:port" endpoints, every other UDP packet dropped (TCP always passes).
    udp_only: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conditions:
        bursts = data.get("bursts")
        udp_only = data.get("udp_only")
        return cls(
            **{
                **data,
                "bursts": Bursts(**bursts) if bursts else None,
                "udp_only": tuple(udp_only) if udp_only is not None else None,
            }
        )


CLEAN = Conditions()


class Fate(Enum):
    """What happened to a packet on a link (a counter each)."""

    DELIVERED = "delivered"
    LOST = "lost"  # random or burst loss
    QUEUE_FULL = "queue_full"  # the rate cap's queue overflowed
    OUTAGE = "outage"
    FILTERED = "filtered"  # the firewall


@dataclass
class Link:
    """One direction of one member's connection, its conditions changeable at any moment."""

    conditions: Conditions = CLEAN
    rng: random.Random = field(default_factory=random.Random)
    outage: tuple[float, float] | None = None  # [start, end) on the caller's clock
    counts: dict[Fate, int] = field(default_factory=lambda: dict.fromkeys(Fate, 0))
    _busy_until: float = 0.0  # when the cap's serializer is free again
    _last_out: float = 0.0  # latest exit so far (kept in order when reorder is off)
    _bad: bool = False  # Gilbert-Elliott state

    def set(self, conditions: Conditions) -> None:
        self.conditions = conditions

    def cut(self, start: float, seconds: float) -> None:
        """Drop everything from ``start`` for ``seconds``."""
        self.outage = (start, start + seconds)

    def in_outage(self, t: float) -> bool:
        return self.outage is not None and self.outage[0] <= t < self.outage[1]

    def admit(self, size: int, now: float) -> float | None:
        """When a packet of ``size`` bytes that enters at ``now`` comes out; None when it is dropped."""
        c = self.conditions
        if self.in_outage(now):
            return self._drop(Fate.OUTAGE)
        leaves_queue = now
        if c.rate_kbps:
            start = max(now, self._busy_until)
            backlog = (start - now) * c.rate_kbps * 125  # bytes still queued ahead of this one
            if backlog + size > c.queue_bytes:
                return self._drop(Fate.QUEUE_FULL)
            self._busy_until = leaves_queue = start + size / (c.rate_kbps * 125)
        if self._lost():
            return self._drop(Fate.LOST)
        out = leaves_queue + max(0.0, c.delay_ms + self.rng.uniform(-c.jitter_ms, c.jitter_ms)) / 1000
        if not c.reorder:
            out = max(out, self._last_out)
        self._last_out = max(self._last_out, out)
        if self.in_outage(out):
            return self._drop(Fate.OUTAGE)
        self.counts[Fate.DELIVERED] += 1
        return out

    def _lost(self) -> bool:
        c = self.conditions
        if c.bursts is None:
            return c.loss > 0 and self.rng.random() < c.loss
        b = c.bursts
        self._bad = self.rng.random() >= b.leave if self._bad else self.rng.random() < b.enter
        return self.rng.random() < (b.loss_bad if self._bad else b.loss_good)

    def _drop(self, fate: Fate) -> float | None:
        """Count a dropped packet; None, for ``admit`` to return."""
        self.counts[fate] += 1
        return None

    def filters(self, endpoint: tuple[str, int]) -> bool:
        """True when the firewall drops UDP to (uplink) or from (downlink) ``endpoint``."""
        allowed = self.conditions.udp_only
        return allowed is not None and f"{endpoint[0]}:{endpoint[1]}" not in allowed

    def refuse(self) -> None:
        self.counts[Fate.FILTERED] += 1


@dataclass
class Path:
    """A member's connection: what it sends goes through ``up``, what it receives through ``down``."""

    up: Link = field(default_factory=Link)
    down: Link = field(default_factory=Link)


@dataclass(frozen=True)
class Datagram:
    """What the emulator needs from an IPv4 packet's headers: where it goes, for UDP the ports, and for
    RTP (whose header SRTP leaves in the clear) the SSRC and sequence number."""

    source: str
    destination: str
    udp: tuple[int, int] | None = None  # (source port, destination port)
    rtp: tuple[int, int] | None = None  # (SSRC, sequence number)

    @classmethod
    def parse(cls, packet: bytes) -> Datagram | None:
        """None for anything but IPv4 (the lab's namespaces have IPv6 off)."""
        if len(packet) < 20 or packet[0] >> 4 != 4:
            return None
        header = (packet[0] & 0x0F) * 4
        udp = rtp = None
        if packet[9] == 17 and len(packet) >= header + 8:
            udp = (int.from_bytes(packet[header : header + 2]), int.from_bytes(packet[header + 2 : header + 4]))
            rtp = _rtp(packet[header + 8 : header + 20])
        return cls(socket.inet_ntoa(packet[12:16]), socket.inet_ntoa(packet[16:20]), udp, rtp)


def _rtp(head: bytes) -> tuple[int, int] | None:
    """RTP version 2, and not RTCP (second byte 192-223: packet types 200-206; media payload types with or
    without the marker fall outside). STUN starts with 0 or 1, DTLS with 20-63."""
    if len(head) < 12 or head[0] & 0xC0 != 0x80 or 192 <= head[1] <= 223:
        return None
    return int.from_bytes(head[8:12]), int.from_bytes(head[2:4])


REMEMBERED = 4096  # sequence numbers remembered per SSRC: a few seconds of video


@dataclass
class RtpTally:
    """RTP packets one sender put on its link, and how many repeated an (SSRC, sequence number) it had
    sent before: retransmissions sent in-band, which receivers' getStats does not count as such
    (Hearth negotiates no RTX, so its retransmissions to subscribers are only seen here)."""

    packets: int = 0
    repeats: int = 0
    _seen: dict[int, tuple[set[int], deque[int]]] = field(default_factory=dict)

    def observe(self, rtp: tuple[int, int]) -> None:
        ssrc, seq = rtp
        self.packets += 1
        seen, order = self._seen.setdefault(ssrc, (set(), deque()))
        if seq in seen:
            self.repeats += 1
            return
        seen.add(seq)
        order.append(seq)
        if len(order) > REMEMBERED:
            seen.discard(order.popleft())
