"""What may enter a connection's ICE sockets: well-formed STUN from anyone, DTLS/SRTP/SRTCP only from peers.

aioice hands every datagram it cannot parse as STUN to its connection's queue, from any address, and
aiortc's DTLS transport reads ``data[0]`` of whatever it dequeues: one empty datagram from anyone on
the internet raised ``IndexError`` there and closed the whole connection. So every ICE socket of
both legs is guarded before aioice sees a packet, by RFC 7983's first-byte demultiplexing:

- 0..3 STUN: a 20-byte header with RFC 5389's magic cookie whose length field counts the rest of
  the datagram (a multiple of 4), from any address (ICE checks are how a peer proves itself; aioice
  authenticates them). aioice queues whatever it cannot parse as data: nothing STUN-shaped but
  malformed gets that far;
- 20..63 DTLS, at least a 13-byte record header; 128..191 RTP (12-byte header) or, when the second
  byte is 192..223 (RFC 5761), RTCP (8 bytes): only from an address ICE has proven on this
  connection: the remote address of a pair whose check we made succeeded, or the source of a check
  the peer made that aioice authenticated (only a holder of the ICE password, sent to this member
  alone, can make one). Both are needed: with aggressive nomination the two sides may nominate
  different pairs, and the peer's DTLS then comes from a pair only its own checks proved;
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
SHORT, MALFORMED, UNKNOWN_KIND, UNKNOWN_SOURCE, REFUSED = 4, 5, 6, 7, 8  # why it dropped a datagram
FIRST_DROP = SHORT
DROP_REASONS = ("short", "malformed", "unknown_kind", "unknown_source", "refused")  # labels, by code - FIRST_DROP
STUN_HEADER, DTLS_HEADER, RTP_HEADER, RTCP_HEADER = 20, 13, 12, 8  # shortest well-formed datagram of each
STUN_COOKIE = b"\x21\x12\xa4\x42"  # RFC 5389 magic cookie, bytes 4..7 of every STUN message

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
        if size < STUN_HEADER:
            return SHORT
        if data[4:8] != STUN_COOKIE or (data[2] << 8 | data[3]) != size - STUN_HEADER or size & 3:
            return MALFORMED
        return STUN
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
    """The remote addresses ICE has proven on ``dtls``'s connection, kept current.

    Seam: aioice's ``Connection.check_state(pair, state)`` (every pair state change goes through it),
    ``Connection.check_incoming(message, addr, protocol)`` (called for each peer check once aioice
    has authenticated it), both looked up on the instance, and ``Connection._check_list``. One set
    per connection, shared by all hooks on it; an address joins it as its check succeeds, before
    aioice reports the connection up.
    """
    connection = dtls.transport._connection
    sources: set[Address] | None = getattr(connection, "_hearth_validated", None)
    if sources is not None:
        return sources
    succeeded = CandidatePair.State.SUCCEEDED
    found: set[Address] = {p.remote_addr for p in connection._check_list if p.state == succeeded}
    original_state, original_incoming = connection.check_state, connection.check_incoming

    def check_state(pair: CandidatePair, state: CandidatePair.State) -> None:
        original_state(pair, state)
        if state == succeeded:
            found.add(pair.remote_addr)

    def check_incoming(message: Any, addr: Any, protocol: Any) -> None:
        found.add((addr[0], addr[1]))
        original_incoming(message, addr, protocol)

    connection.check_state = check_state
    connection.check_incoming = check_incoming
    connection._hearth_validated = found
    return found
