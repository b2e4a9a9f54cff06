"""RTCP the seam builds itself (NACK upstream, RR+REMB, SR+SDES) goes out through ``send_rtcp``.

Its callers are the room loop and the ICE socket callbacks: a socket error or an SRTP refusal loses
one packet and never raises into them. The connection here is a stand-in with the fields
``nominated_route`` reads (``test_seam.py`` pins those on aiortc and aioice).
"""

from __future__ import annotations

import os
import struct
from types import SimpleNamespace
from typing import Any

import pylibsrtp
import pytest
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpPacket, RtcpRtpfbPacket
from pylibsrtp import Policy, Session

from server.media import repair
from server.media.seam import LeanReceiver, SubscriberRtcp
from server.media.seam.transport import nominated_route, send_rtcp

REMOTE = ("127.0.0.1", 9)


class _Transport:
    """A datagram transport that records what it is given, or fails as a closed socket would."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[tuple[bytes, Any]] = []

    def is_closing(self) -> bool:
        return False

    def sendto(self, data: bytes, addr: Any) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append((data, addr))


class _Refusing:
    """An SRTP session whose protect is refused, as libsrtp may refuse an index."""

    def protect_rtcp(self, packet: bytes) -> bytes:
        raise pylibsrtp.Error("srtp_protect_rtcp failed: 9")


def _sessions() -> tuple[Session, Session]:
    key, profile = os.urandom(30), Policy.SRTP_PROFILE_AES128_CM_SHA1_80
    outbound = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
    inbound = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
    return outbound, inbound


def _dtls(transport: _Transport, session: Any) -> Any:
    pair = SimpleNamespace(protocol=SimpleNamespace(transport=transport), remote_addr=REMOTE)
    connection = SimpleNamespace(
        _nominated={1: pair},
        _protocols=[],
        _check_list=[],
        check_state=lambda p, s: None,
        check_incoming=lambda m, a, p: None,
    )
    return SimpleNamespace(_tx_srtp=session, state="connected", transport=SimpleNamespace(_connection=connection))


def _nack() -> bytes:
    packet = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=2)
    packet.lost = [7]
    return bytes(packet)


def test_rtcp_goes_out_protected_on_the_nominated_route() -> None:
    outbound, inbound = _sessions()
    transport = _Transport()
    dtls = _dtls(transport, outbound)
    route = nominated_route(dtls)
    assert route is not None
    assert send_rtcp(dtls, route, _nack())
    [(data, addr)] = transport.sent
    assert addr == REMOTE and inbound.unprotect_rtcp(data) == _nack()


@pytest.mark.parametrize(
    ("error", "session"),
    [(OSError(9, "Bad file descriptor"), None), (ConnectionRefusedError(), None), (None, _Refusing())],
    ids=["closed-socket", "refused", "srtp-refusal"],
)
def test_a_socket_error_or_srtp_refusal_loses_the_packet_without_raising(error: Any, session: Any) -> None:
    dtls = _dtls(_Transport(error), session or _sessions()[0])
    route = nominated_route(dtls)
    assert route is not None
    assert not send_rtcp(dtls, route, _nack())


@pytest.mark.parametrize("error", [OSError(9, "Bad file descriptor"), None], ids=["socket", "srtp"])
def test_an_upstream_nack_never_raises_into_the_socket_callback(error: Exception | None) -> None:
    dtls = _dtls(_Transport(error), _sessions()[0] if error else _Refusing())
    receiver = SimpleNamespace(transport=dtls, _RTCRtpReceiver__rtcp_ssrc=1)
    LeanReceiver().send_nack(SimpleNamespace(receiver=receiver, ssrc=2), [7, 9])  # type: ignore[arg-type]


def test_subscriber_reports_count_only_what_went_out() -> None:
    outbound, inbound = _sessions()
    transport = _Transport()
    rtcp = SubscriberRtcp()
    rtcp.attach(_dtls(transport, outbound), "cname")
    lean = SimpleNamespace(
        ssrc=5, packets_sent=1, sender_report=lambda: bytes([0x80, 200, 0, 6]) + bytes(24), roll_budget=lambda: None
    )
    rtcp.senders[5] = lean  # type: ignore[assignment]
    assert rtcp.send_reports() and rtcp.reports_sent == 1
    assert [type(p).__name__ for p in RtcpPacket.parse(inbound.unprotect_rtcp(transport.sent[0][0]))] == [
        "RtcpSrPacket",
        "RtcpSdesPacket",
    ]
    transport.error = OSError(9, "Bad file descriptor")
    assert rtcp.send_reports() and rtcp.reports_sent == 1


# aiortc's CNAME is a UUID; 252 bytes is the longest whose chunks aiortc's own SDES parser reads back (it
# expects exactly two null bytes after a chunk's items, not padding to 32 bits).
@pytest.mark.parametrize("cname", ["f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "c" * 252], ids=["uuid", "long"])
@pytest.mark.parametrize("tracks", [18, 22, 98], ids=lambda n: f"{n}-tracks")
def test_a_large_rooms_reports_are_split_into_compound_packets_srtcp_can_protect(cname: str, tracks: int) -> None:
    """aiortc's CNAME is a UUID: past 18 tracks (10 publishers) one SR+SDES packet is too long to protect."""
    outbound, inbound = _sessions()
    transport = _Transport()
    rtcp = SubscriberRtcp()
    rtcp.attach(_dtls(transport, outbound), cname)
    for ssrc in range(1, tracks + 1):
        report = bytes([0x80, 200, 0, 6]) + ssrc.to_bytes(4, "big") + bytes(20)
        rtcp.senders[ssrc] = SimpleNamespace(  # type: ignore[assignment]
            ssrc=ssrc, packets_sent=1, sender_report=lambda r=report: r, roll_budget=lambda: None
        )
    assert rtcp.send_reports()
    assert rtcp.reports_sent == len(transport.sent) >= 1
    if tracks <= 18 and len(cname) == 36:
        assert len(transport.sent) == 1, "a room up to 10 publishers keeps one compound packet"
    reported, named = [], []
    for data, _ in transport.sent:
        packets = RtcpPacket.parse(inbound.unprotect_rtcp(data))
        assert type(packets[0]).__name__ == "RtcpSrPacket", "a compound packet starts with a report"
        *reports, sdes = packets
        assert type(sdes).__name__ == "RtcpSdesPacket" and {c.ssrc for c in sdes.chunks} == {r.ssrc for r in reports}
        reported += [r.ssrc for r in reports]
        named += [c.ssrc for c in sdes.chunks]
    assert sorted(reported) == sorted(named) == list(range(1, tracks + 1))


def test_the_receiving_legs_guard_gives_the_publishing_legs_verdicts() -> None:
    """Junk to a subscriber connection's port: dropped by the same rules, counted, never raised."""
    from server.media.seam.guard import FIRST_DROP, admit
    from tests.media.test_inlet import JUNK_SHAPES, PEER, STRANGER

    outbound, _ = _sessions()
    rtcp = SubscriberRtcp()
    dtls = _dtls(_Transport(), outbound)
    dtls._rx_srtp = None  # DTLS not up yet: SRTCP goes the usual way, as before a handshake
    rtcp.install(dtls)
    rtcp.validated.add(PEER)
    handed: list[bytes] = []
    hook = rtcp._hook(lambda data, addr: handed.append(data))
    datagrams = [(data, addr) for data in JUNK_SHAPES for addr in (PEER, STRANGER)]
    for data, addr in datagrams:
        hook(data, addr)
    verdicts = [admit(data, addr, {PEER}) for data, addr in datagrams]
    assert sum(rtcp.drops.counts) == sum(1 for v in verdicts if v >= FIRST_DROP)
    assert handed == [data for (data, _), v in zip(datagrams, verdicts, strict=True) if v < FIRST_DROP]


def _receiver_report(ssrc: int, lsr: int, dlsr: int) -> bytes:
    """An RR from the subscriber with one report block about our sender ``ssrc``."""
    block = struct.pack("!IBBHIIII", ssrc, 0, 0, 0, 100, 0, lsr, dlsr)
    return struct.pack("!BBHI", 0x81, 201, 7, 0xABC) + block


def test_receiver_reports_set_the_resend_interval_to_the_round_trip_to_the_subscriber() -> None:
    """Our SR goes out at 100.0 s; the subscriber's RR echoes it (LSR) having held it 0.5 s (DLSR) and
    reaches us at 100.53 s: a 30 ms round trip, so a packet may be resent again 40 ms after the last
    resend instead of the default 100 ms. A block that echoes no SR of ours measures nothing."""
    outbound, _ = _sessions()
    clock = SimpleNamespace(now=100.0)
    rtcp = SubscriberRtcp(clock=lambda: clock.now)
    rtcp.attach(_dtls(_Transport(), outbound), "cname")
    ntp = 0x0123456789ABCDEF
    report = struct.pack("!BBHIQIII", 0x80, 200, 6, 5, ntp, 0, 1, 1)
    lean = SimpleNamespace(
        ssrc=5,
        kind="video",
        packets_sent=1,
        sender_report=lambda: report,
        roll_budget=lambda: None,
        resend_interval=0.1,
    )
    rtcp.senders[5] = lean  # type: ignore[assignment]
    assert rtcp.send_reports()
    clock.now = 100.53
    rtcp.on_rtcp(_receiver_report(5, 0x11111111, 0x1234))  # not the LSR of our SR
    assert rtcp.rtt is None and lean.resend_interval == 0.1
    rtcp.on_rtcp(_receiver_report(5, (ntp >> 16) & 0xFFFFFFFF, 65536 // 2))
    assert rtcp.rtt == pytest.approx(0.03)
    assert lean.resend_interval == pytest.approx(repair.retry_interval(0.03, 0.1)) == pytest.approx(0.04)
