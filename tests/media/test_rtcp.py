"""Subscriber-side RTCP through ``seam.SubscriberRtcp``: reports out, NACK and PLI in, on real peers.

The only instrumentation is on the client side: recording what its receivers and the publisher's
sender are handed, and one datagram dropped on the subscriber's socket to open a gap.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from aiortc.rtp import RTCP_PSFB_PLI, RtcpPacket, RtcpPsfbPacket, RtcpRrPacket, RtcpSdesPacket, RtcpSrPacket

from rooms.model import stream_id_for
from tests.media.clients import PatternVideo, ToneAudio, record_handed, wait_for
from tests.media.conftest import Room

pytestmark = [pytest.mark.media, pytest.mark.slow]  # real aiortc peers on loopback


def _video_receiver(client: Any) -> Any:
    return next(t.receiver for t in client.subscriber.getTransceivers() if t.kind == "video" and t.receiver.track)


async def test_subscriber_gets_one_compound_report_for_all_its_tracks(room: Room) -> None:
    await room.policy({"a", "b", "c"})
    a, b, c = room.client("a"), room.client("b"), room.client("c")
    await a.publish(ToneAudio(), PatternVideo())
    await b.publish(ToneAudio(), PatternVideo())
    await wait_for(lambda: c.received[(stream_id_for("b"), "video")].frames >= 5, timeout=10)
    assert c.subscriber is not None
    dtls: Any = c.subscriber.getTransceivers()[0].receiver.transport
    seen = record_handed(dtls, "_handle_rtcp_data")
    await wait_for(lambda: len(seen) >= 2, timeout=5)
    packets = RtcpPacket.parse(seen[-1])
    reports = [p for p in packets if isinstance(p, RtcpSrPacket)]
    sdes = [p for p in packets if isinstance(p, RtcpSdesPacket)]
    assert len(reports) == 4, "one SR per forwarded track, in one compound packet"
    assert len(sdes) == 1 and {chunk.ssrc for chunk in sdes[0].chunks} == {r.ssrc for r in reports}
    assert all(r.sender_info.packet_count > 0 for r in reports)
    peer = room.engine._rooms["s1"].peers["c"]
    assert peer.rtcp is not None and peer.rtcp.reports_sent >= 2


async def test_subscriber_pli_reaches_the_publisher(room: Room) -> None:
    _a, b, seen = await room.video_from_a_to_b()
    receiver = _video_receiver(b)
    await asyncio.sleep(0.6)  # past the forwarder's PLI throttle
    ssrc = next(iter(receiver._RTCRtpReceiver__remote_streams))
    await receiver._send_rtcp_pli(ssrc)
    await wait_for(lambda: any(isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_PLI for p in seen), timeout=3)


async def test_a_downstream_gap_is_repaired_from_the_senders_history(room: Room) -> None:
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(PatternVideo())
    await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= 10, timeout=10)
    assert b.subscriber is not None
    receiver = _video_receiver(b)
    ssrc = next(iter(receiver._RTCRtpReceiver__remote_streams))
    dtls: Any = receiver.transport
    handed = record_handed(dtls, "_handle_rtp_data")  # RTP after SRTP, as the client's stack gets it

    def arrived() -> list[int]:
        return [int.from_bytes(data[2:4], "big") for data in handed]

    dropped: list[int] = []
    for protocol in dtls.transport._connection._protocols:
        forward = protocol.datagram_received

        def dropping(data: bytes, addr: Any, forward: Any = forward) -> None:
            is_video = data[1] < 192 and int.from_bytes(data[8:12], "big") == ssrc
            if not dropped and 127 < data[0] < 192 and is_video and len(handed) > 10:
                dropped.append(int.from_bytes(data[2:4], "big"))
                return
            forward(data, addr)

        protocol.datagram_received = dropping
    await wait_for(lambda: bool(dropped) and dropped[0] in arrived(), timeout=5)
    peer = room.engine._rooms["s1"].peers["b"]
    assert peer.rtcp is not None and peer.rtcp.feedback_received >= 1


async def test_a_nack_repeated_within_a_round_trip_is_resent_once(room: Room) -> None:
    """A subscriber asking twice for a packet before the first answer could arrive gets it once.
    (The sender's resend interval is set long, as a long RTT estimate would: the rule, not this
    machine's scheduling, decides.)"""
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(PatternVideo())
    await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= 10, timeout=10)
    receiver = _video_receiver(b)
    ssrc = next(iter(receiver._RTCRtpReceiver__remote_streams))
    dtls: Any = receiver.transport
    arrived: list[int] = []  # sequence numbers of the video datagrams, before SRTP (which drops replays)
    for protocol in dtls.transport._connection._protocols:
        forward = protocol.datagram_received

        def counting(data: bytes, addr: Any, forward: Any = forward) -> None:
            if 127 < data[0] < 192 and data[1] < 192 and int.from_bytes(data[8:12], "big") == ssrc:
                arrived.append(int.from_bytes(data[2:4], "big"))
            forward(data, addr)

        protocol.datagram_received = counting
    await wait_for(lambda: len(arrived) >= 3, timeout=5)
    seq = arrived[-1]
    peer = room.engine._rooms["s1"].peers["b"]
    assert peer.rtcp is not None
    lean = peer.outgoing[("a", "video")].sink.lean
    lean.resend_interval = 30.0
    resent, repeats, feedback = lean.retransmitted, lean.resend_repeats, peer.rtcp.feedback_received
    await receiver._send_rtcp_nack(ssrc, [seq])
    await receiver._send_rtcp_nack(ssrc, [seq])
    await wait_for(lambda: peer.rtcp is not None and peer.rtcp.feedback_received >= feedback + 2, timeout=5)
    assert (lean.retransmitted, lean.resend_repeats) == (resent + 1, repeats + 1)
    await wait_for(lambda: arrived.count(seq) >= 2, timeout=5)  # the original and the one resend


async def test_a_listeners_downlink_loss_reaches_the_publishers_receiver_report_for_its_opus_fec(room: Room) -> None:
    """The publisher's browser tunes Opus in-band FEC to the fraction lost its receiver reports give.
    Its uplink is clean; one listener's downlink loses a third of the audio (dropped at that client's
    socket, before its receiver counts). The server's report for the publisher's audio carries that
    listener's loss, and goes back to nothing once the listener's link is clean again."""
    await room.policy({"a", "b", "c"})
    a, b, c = room.client("a"), room.client("b"), room.client("c")
    await a.publish(ToneAudio())
    await wait_for(lambda: min(x.received[(stream_id_for("a"), "audio")].frames for x in (b, c)) >= 25, timeout=10)
    assert a.publisher is not None
    sender = a.publisher.getSenders()[0]
    handed = record_handed(sender, "_handle_rtcp_packet")

    def reported() -> list[int]:
        return [
            block.fraction_lost
            for packet in handed
            if isinstance(packet, RtcpRrPacket)
            for block in packet.reports
            if block.ssrc == sender._ssrc
        ]

    await wait_for(lambda: len(reported()) >= 2, timeout=5)
    assert max(reported()) == 0, "a clean uplink and clean downlinks: nothing lost"
    assert b.subscriber is not None
    receiver = next(t.receiver for t in b.subscriber.getTransceivers() if t.kind == "audio" and t.receiver.track)
    ssrc = next(iter(receiver._RTCRtpReceiver__remote_streams))
    lossy = [True]
    arrivals = itertools.count()
    for protocol in receiver.transport.transport._connection._protocols:
        forward = protocol.datagram_received

        def losing(data: bytes, addr: Any, forward: Any = forward) -> None:
            rtp = 127 < data[0] < 192 and not 192 <= data[1] <= 223  # RFC 5761: RTCP is 200-204 (PT+marker)
            is_audio = rtp and int.from_bytes(data[8:12], "big") == ssrc
            if is_audio and lossy[0] and next(arrivals) % 3 == 0:
                return
            forward(data, addr)

        protocol.datagram_received = losing
    await wait_for(lambda: any(lost >= 256 // 5 for lost in reported()), timeout=15)
    lossy[0] = False
    seen = len(reported())
    await wait_for(lambda: 0 in reported()[seen:], timeout=30)  # b's next reports, then REPORTED_LOSS_TTL at most
    assert c.received[(stream_id_for("a"), "audio")].frames > 0
