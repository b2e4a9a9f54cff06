"""What may enter a connection's ICE sockets: well-formed STUN from anyone, DTLS/SRTP/SRTCP only from peers.

aioice hands every datagram it cannot parse as STUN to its connection's queue, from any address, and
aiortc's DTLS transport reads ``data[0]`` of whatever it dequeues: one empty datagram from anyone on
the internet raised ``IndexError`` there and closed the whole connection. So every ICE socket of
both legs is guarded before aioice sees a packet, by RFC 7983's first-byte demultiplexing:

- 0..3 STUN, at least a 20-byte header: from any address (ICE checks are how a peer proves itself;
  aioice authenticates them);
- 20..63 DTLS, at least a 13-byte record header; 128..191 RTP (12-byte header) or, when the second
  byte is 192..223 (RFC 5761), RTCP (8 bytes): only from the remote address of a candidate pair
  whose ICE check succeeded on this connection;
- anything else (TURN channel data, ZRTP, QUIC, or nothing at all) is no protocol of ours.

A refused packet is counted by reason (``Drops``, shown in ``/metrics``), never logged: a stranger
must not be able to fill the logs. A packet that passes and still makes aioice's parser raise (a
STUN attribute of the wrong length raises ``struct.error``) is counted as ``refused`` instead of
reaching the event loop's exception handler.

These are the rules; the publisher leg's compiled hook (``_fastpath.c``, ``admit``) follows them
too, and ``tests/media/test_inlet.py`` holds both paths to the same verdicts.
"""

from __future__ import annotations

from typing import Any

from aioice.ice import CandidatePair

STUN, DTLS, RTP, RTCP = 0, 1, 2, 3  # what ``admit`` lets through
SHORT, UNKNOWN_KIND, UNKNOWN_SOURCE, REFUSED = 4, 5, 6, 7  # why it dropped a datagram
FIRST_DROP = SHORT
DROP_REASONS = ("short", "unknown_kind", "unknown_source", "refused")  # metric labels, by code - FIRST_DROP
STUN_HEADER, DTLS_HEADER, RTP_HEADER, RTCP_HEADER = 20, 13, 12, 8  # shortest well-formed datagram of each

Address = tuple[str, int]


def admit(data: bytes, addr: Any, validated: set[Address]) -> int:
    """What ``data`` from ``addr`` is (``STUN``..``RTCP``), or why it must be dropped (``SHORT``..).

    ``validated``: the remote addresses this connection's ICE checks have proven (``ValidatedSources``).
    """
    size = len(data)
    if not size:
        return SHORT
    first = data[0]
    if first < 4:
        return STUN if size >= STUN_HEADER else SHORT
    if 19 < first < 64:
        kind, need = DTLS, DTLS_HEADER
    elif 127 < first < 192:
        if size < RTCP_HEADER:
            return SHORT  # too short to be either, whatever its second byte says
        kind, need = (RTCP, RTCP_HEADER) if 191 < data[1] < 224 else (RTP, RTP_HEADER)
    else:
        return UNKNOWN_KIND
    if size < need:
        return SHORT
    if (addr[0], addr[1]) not in validated:
        return UNKNOWN_SOURCE
    return kind


class Drops:
    """Datagrams the guards refused, by reason: one per engine, shared by every connection's hooks."""

    def __init__(self) -> None:
        self.counts = [0] * len(DROP_REASONS)

    def add(self, reason: int) -> None:
        self.counts[reason - FIRST_DROP] += 1

    def by_reason(self) -> dict[str, int]:
        return dict(zip(DROP_REASONS, self.counts, strict=True))


def validated_sources(dtls: Any) -> set[Address]:
    """The remote addresses of ``dtls``'s candidate pairs whose ICE check succeeded, kept current.

    Seam: aioice's ``Connection.check_state(pair, state)`` (every pair state change goes through it,
    looked up on the instance) and ``Connection._check_list``. One set per connection, shared by all
    hooks on it; a pair that succeeds later (a new nomination, a peer-reflexive candidate) joins it
    as its state changes, before aioice reports the connection up.
    """
    connection = dtls.transport._connection
    sources: set[Address] | None = getattr(connection, "_hearth_validated", None)
    if sources is not None:
        return sources
    succeeded = CandidatePair.State.SUCCEEDED
    found: set[Address] = {p.remote_addr for p in connection._check_list if p.state == succeeded}
    original = connection.check_state

    def check_state(pair: CandidatePair, state: CandidatePair.State) -> None:
        original(pair, state)
        if state == succeeded:
            found.add(pair.remote_addr)

    connection.check_state = check_state
    connection._hearth_validated = found
    return found
