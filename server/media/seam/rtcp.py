"""Subscriber RTCP: one compound report per connection out, NACK/PLI/FIR read in the socket callback.

aiortc runs one RTCP task per sender and takes every incoming report through its queue, a coroutine
and its parser; ``SubscriberRtcp`` does the whole connection's RTCP instead, for its ``LeanSender``s.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

import pylibsrtp

from server.media import repair
from server.media.estimate import REMB_FALL
from server.media.seam.guard import FIRST_DROP, REFUSED, RTCP, Address, Drops, admit, validated_sources
from server.media.seam.resend import KEYFRAME_ASKED, RESEND_INTERVAL
from server.media.seam.send import SENDER_REPORT_SIZE, LeanSender
from server.media.seam.transport import SRTCP_MAX, Datagrams, SocketHooks, fast_srtp, nominated_route, send_rtcp

_RTCP_HEADER = struct.Struct("!BBH")  # version and count/format, packet type, length in words - 1
_NACK_FCI = struct.Struct("!HH")  # packet id, bitmask of the following lost packets
_REPORT_BLOCK = 24  # bytes of an SR/RR report block: SSRC, fraction lost, cumulative lost, ...
_REMB = b"REMB"
_LSR_DLSR = struct.Struct("!II")  # a report block's last SR (middle 32 bits of its NTP time) and delay since


class SubscriberRtcp:
    """A subscriber connection's RTCP, both ways, instead of aiortc's per-sender work.

    aiortc runs one RTCP task per sender (a timer wake-up, an SR, an SDES and a ``sendto`` every
    0.5-1.5 s) and takes every incoming report through its queue, a coroutine and its RTCP parser:
    with 7 publishers of 2 tracks that is 14 of each per second per subscriber. Here the engine's
    room loop calls ``send_reports`` once a second (no timer of its own: on this kind of machine a
    wake-up costs more than the report) for one compound packet (an SR per sending track, then one
    SDES; a few when a large room's would be too long to protect), and incoming SRTCP is read inside
    the socket callback: NACKs are answered from the sender's history (once per packet per round
    trip, within a budget rolled with each report; what we never had is asked of the publisher) and
    PLI/FIR go to the forwarder. The subscriber's own figures of what reaches it are kept for the
    allocator (``server.media.bandwidth``): its REMB (the browser's receive-side estimate, ``remb``)
    and the worst fraction lost its receiver reports give for each of our videos since last taken
    (``take_losses``). The report blocks' LSR and DLSR give the round trip to the subscriber (``rtt``),
    which sets how soon a packet may be resent again (``repair.retry_interval``).
    """

    def __init__(self, drops: Drops | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.senders: dict[int, LeanSender] = {}
        self.drops = drops if drops is not None else Drops()
        self.validated: set[Address] = set()
        self.reports_sent = 0  # compound report packets sent (tests and diagnostics)
        self.feedback_received = 0  # NACK, PLI and FIR packets handled (tests and diagnostics)
        self._dtls: Any = None
        self._cname = b""
        self._hooks = SocketHooks()
        self._unprotect: Callable[[bytes], bytes] | None = None
        self.remb: int | None = None  # bit/s, the subscriber's latest REMB
        self.remb_received = 0  # REMB packets read (tests and diagnostics)
        self.remb_fell = False  # a REMB came lower than the one before it since the flag was cleared
        self.heard_at: float | None = None  # ``clock()`` when the subscriber's last RTCP packet was read
        self._losses: dict[int, float] = {}  # video SSRC -> worst fraction lost reported since ``take_losses``
        self.clock = clock
        self.rtt: float | None = None  # seconds, smoothed, from the report blocks' LSR/DLSR
        # Our last two SRs of each sender: (LSR, the middle 32 bits of its NTP time; when it was sent).
        # An RR's block names the latest SR that reached the subscriber, which may be the one before.
        self._reports: dict[int, list[tuple[int, float]]] = {}

    def add(self, lean: LeanSender) -> None:
        self.senders[lean.ssrc] = lean
        if self.rtt is not None:  # a track added to a measured link resends at its round trip at once
            lean.resend_interval = repair.retry_interval(self.rtt, RESEND_INTERVAL)

    def remove(self, lean: LeanSender) -> None:
        if self.senders.get(lean.ssrc) is lean:
            del self.senders[lean.ssrc]
            self._reports.pop(lean.ssrc, None)

    def install(self, dtls: Any) -> None:
        """Guard and wrap the connection's ICE sockets: call as soon as they exist (after each
        setLocalDescription of an offer), long before a sender starts and DTLS is up."""
        self._dtls = dtls
        self.validated = validated_sources(dtls)
        self._hooks.wrap(dtls, self._hook)

    def attach(self, dtls: Any, cname: str) -> None:
        """A sender started on ``dtls``: its CNAME for the reports (its sockets are guarded already)."""
        self._cname = cname.encode()[:255]
        self.install(dtls)

    def _hook(self, original: Datagrams) -> Datagrams:
        """The socket guard (``guard.admit``), then SRTCP here, the rest (STUN, DTLS) to ``original``."""
        validated, drops = self.validated, self.drops

        def datagram_received(data: bytes, addr: Any) -> None:
            kind = admit(data, addr, validated)
            if kind >= FIRST_DROP:
                drops.add(kind)
                return
            if kind == RTCP:
                session = self._dtls._rx_srtp
                if session is not None:
                    if self._unprotect is None:
                        self._unprotect = fast_srtp(session, unprotect=True, rtcp=True)
                    try:
                        plain = self._unprotect(data)
                    except pylibsrtp.Error:
                        return  # a replay or a forgery: aiortc drops it too
                    self.on_rtcp(plain)
                    return
            try:
                original(data, addr)
            except Exception:  # aioice's STUN parser raises struct.error on a short attribute
                drops.add(REFUSED)

        return datagram_received

    def on_rtcp(self, plain: bytes) -> None:
        """Walk a compound RTCP packet for generic NACK (205/1), PLI (206/1), FIR (206/4), REMB (206/15)
        and the report blocks of SR (200) and RR (201)."""
        self.heard_at = self.clock()  # a silence (an outage) ends here: ``estimate.Estimate.on_heard``
        pos, end = 0, len(plain)
        while pos + 12 <= end:
            first, kind, words = _RTCP_HEADER.unpack_from(plain, pos)
            after = pos + 4 + 4 * words
            if after > end:
                return
            fmt = first & 0x1F
            if kind == 205 and fmt == 1:
                lean = self.senders.get(int.from_bytes(plain[pos + 8 : pos + 12], "big"))
                if lean is not None:
                    lost: list[int] = []
                    for fci in range(pos + 12, after - 3, 4):
                        pid, blp = _NACK_FCI.unpack_from(plain, fci)
                        lost.append(pid)
                        lost.extend((pid + bit + 1) & 0xFFFF for bit in range(16) if blp >> bit & 1)
                    self.feedback_received += 1
                    lean.answer_nack(lost)
            elif kind == 206 and fmt in (1, 4):
                at = pos + 8 if fmt == 1 else pos + 12  # FIR names the media source in its FCI
                lean = self.senders.get(int.from_bytes(plain[at : at + 4], "big"))
                if lean is not None:
                    self.feedback_received += 1
                    lean.on_keyframe_request(KEYFRAME_ASKED)
            elif kind == 206 and fmt == 15 and after - pos >= 20 and plain[pos + 12 : pos + 16] == _REMB:
                exponent, mantissa = plain[pos + 17] >> 2, int.from_bytes(plain[pos + 17 : pos + 20], "big") & 0x3FFFF
                remb = mantissa << exponent
                if self.remb is not None and remb < self.remb * REMB_FALL:
                    self.remb_fell = True  # the browser's delay-based detector saw its queue grow
                self.remb = remb
                self.remb_received += 1
            elif kind in (200, 201):
                self._read_blocks(plain, pos + (28 if kind == 200 else 8), first & 0x1F, after)
            pos = after

    def _read_blocks(self, plain: bytes, at: int, count: int, end: int) -> None:
        """The fraction lost of each report block about one of our senders (video: the allocator's
        evidence; audio: the copy's ``reported_loss``, proxied upstream), and the round trip its LSR
        and DLSR give (RFC 3550 6.4.1)."""
        for _ in range(count):
            if at + _REPORT_BLOCK > end:
                return
            ssrc = int.from_bytes(plain[at : at + 4], "big")
            lean = self.senders.get(ssrc)
            if lean is not None:
                if lean.kind == "video":
                    self._losses[ssrc] = max(self._losses.get(ssrc, 0.0), plain[at + 4] / 256.0)
                else:
                    lean.reported_loss = (plain[at + 4], self.clock())
                lsr, dlsr = _LSR_DLSR.unpack_from(plain, at + 16)
                self._round_trip(ssrc, lsr, dlsr)
            at += _REPORT_BLOCK

    def _round_trip(self, ssrc: int, lsr: int, dlsr: int) -> None:
        """A report block echoed one of our SRs (``lsr``) after holding it ``dlsr`` (1/65536 s): one
        more round-trip sample, and every sender's resend interval from the smoothed figure."""
        sent = next((when for echoed, when in self._reports.get(ssrc, ()) if echoed == lsr), None)
        if sent is None or not lsr:
            return
        rtt = repair.smooth_rtt(self.rtt, self.clock() - sent - dlsr / 65536.0)
        if rtt is None or rtt == self.rtt:
            return
        self.rtt = rtt
        interval = repair.retry_interval(rtt, RESEND_INTERVAL)
        for lean in self.senders.values():
            lean.resend_interval = interval

    def take_losses(self) -> dict[int, float]:
        """The worst fraction lost (0..1) reported for each of our video senders (by SSRC) since the
        last call; empty when no report came."""
        losses, self._losses = self._losses, {}
        return losses

    def send_reports(self) -> bool:
        """An SR for each track that has sent, then their CNAMEs in one SDES: one compound packet.

        A large room's reports are split into as few compound packets as SRTCP can protect (with
        aiortc's UUID CNAME, 18 tracks fit in one), each an SR per track and then their SDES.
        """
        for lean in self.senders.values():
            lean.roll_budget()  # retransmission budgets run in windows of this report interval
        route = nominated_route(self._dtls) if self._dtls is not None else None
        if route is None and self._dtls is not None:
            for lean in self.senders.values():
                lean.route_lost()  # a compiled outlet sends on its own dup of the socket: stop it here
        live = [lean for lean in self.senders.values() if lean.packets_sent]
        if route is None or not live:
            return False
        per_track = SENDER_REPORT_SIZE + len(_sdes_chunk(0, self._cname))
        fits = min(31, (SRTCP_MAX - _RTCP_HEADER.size) // per_track)  # an SDES counts its chunks in 5 bits
        for start in range(0, len(live), fits):
            group = live[start : start + fits]
            chunks = b"".join(_sdes_chunk(lean.ssrc, self._cname) for lean in group)
            sdes = _RTCP_HEADER.pack(0x80 | len(group), 202, len(chunks) // 4) + chunks
            reports = [lean.sender_report() for lean in group]
            if send_rtcp(self._dtls, route, b"".join([*reports, sdes])):
                self.reports_sent += 1
                now = self.clock()
                for lean, report in zip(group, reports, strict=True):
                    sent = self._reports.setdefault(lean.ssrc, [])
                    sent[:] = [*sent[-1:], (int.from_bytes(report[10:14], "big"), now)]
        return True

    def close(self) -> None:
        """Unwrap the sockets and forget the senders."""
        self._hooks.unwrap()
        self.senders.clear()


def _sdes_chunk(ssrc: int, cname: bytes) -> bytes:
    """One SDES chunk with a CNAME item, null-terminated and padded to 32 bits (RFC 3550 6.5)."""
    body = struct.pack("!IBB", ssrc, 1, len(cname)) + cname
    return body + b"\x00" * (4 - len(body) % 4)
