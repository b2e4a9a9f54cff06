"""The lean receive path: publishers' packets bypass aiortc's receiver, and what it gave us still works.

Real aiortc publishers on loopback. The only instrumentation is on the client side (recording the RTCP
its sender receives) and one dropped datagram on the server's socket callback to open a gap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RTCP_PSFB_PLI, RTCP_RTPFB_NACK, RtcpPsfbPacket, RtcpRrPacket, RtcpRtpfbPacket, RtpPacket

from rooms.model import stream_id_for
from server.media.seam import InboundTrack, LeanReceiver
from server.media.seam.inbound import MAX_NACKS, MAX_REPAIR_GAP
from tests.media.clients import Collect, PatternVideo, ToneAudio, record_handed, wait_for
from tests.media.conftest import Room

pytestmark = [pytest.mark.media, pytest.mark.slow]  # real aiortc peers on loopback


def _tracks(room: Room, participant_id: str) -> dict[str, InboundTrack]:
    peer = room.engine._rooms["s1"].peers[participant_id]
    assert peer.inbound is not None
    return {("video" if track.video else "audio"): track for track in peer.inbound.tracks.values()}


async def test_publisher_packets_take_the_lean_path(room: Room) -> None:
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(ToneAudio(), PatternVideo())
    await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= 30, timeout=10)
    await wait_for(lambda: b.received[(stream_id_for("a"), "audio")].frames >= 30, timeout=10)
    tracks = _tracks(room, "a")
    assert tracks["audio"].lean_packets >= 20 and tracks["video"].lean_packets >= 20
    assert a.publisher is not None
    for sender in a.publisher.getSenders():
        assert tracks[sender.kind].ssrc == sender._ssrc


async def test_publisher_receives_receiver_reports_from_the_lean_path(room: Room) -> None:
    await room.policy({"a", "b"})
    a = room.client("a")
    room.client("b")
    await a.publish(ToneAudio(), PatternVideo())
    assert a.publisher is not None
    video = next(s for s in a.publisher.getSenders() if s.kind == "video")
    seen = record_handed(video, "_handle_rtcp_packet")  # the RTCP packets the publisher gets

    def reports() -> list[Any]:
        return [r for p in seen if isinstance(p, RtcpRrPacket) for r in p.reports if r.ssrc == video._ssrc]

    await wait_for(lambda: len(reports()) >= 3 and _tracks(room, "a")["video"].lean_packets > 50, timeout=10)
    first, last = reports()[0], reports()[-1]
    assert (last.highest_sequence - first.highest_sequence) & 0xFFFF > 10, "RR highest sequence does not advance"
    assert last.packets_lost == 0 and last.fraction_lost == 0


async def test_an_upstream_gap_is_nacked_and_repaired(room: Room) -> None:
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(PatternVideo())
    await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= 10, timeout=10)
    assert a.publisher is not None
    video = a.publisher.getSenders()[0]
    seen = record_handed(video, "_handle_rtcp_packet")  # the RTCP packets the publisher gets
    track = _tracks(room, "a")["video"]
    inbound = room.engine._rooms["s1"].peers["a"].inbound
    assert inbound is not None
    dropped: list[int] = []
    hooked = list(inbound._hooks.wrapped)
    originals = {id(p): p.datagram_received for p in hooked}

    def dropping(protocol: Any) -> Any:
        forward = originals[id(protocol)]

        def datagram_received(data: bytes, addr: Any) -> None:
            if not dropped and 127 < data[0] < 192 and not 191 < data[1] < 224 and track.lean_packets > 20:
                dropped.append(int.from_bytes(data[2:4], "big"))  # the sequence number is not encrypted
                return
            forward(data, addr)

        return datagram_received

    for protocol in hooked:
        protocol.datagram_received = dropping(protocol)

    def nacked() -> bool:
        return any(isinstance(p, RtcpRtpfbPacket) and p.fmt == RTCP_RTPFB_NACK and dropped[0] in p.lost for p in seen)

    await wait_for(lambda: bool(dropped) and nacked(), timeout=10)
    await wait_for(lambda: dropped[0] not in track.missing, timeout=5)  # the retransmission arrived
    frames = b.received[(stream_id_for("a"), "video")].frames
    await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= frames + 15, timeout=5)


async def test_lean_parse_reads_levels_strips_padding_and_drops_malformed_packets() -> None:
    pc = RTCPeerConnection()
    try:
        consumer = Collect()
        track = InboundTrack(LeanReceiver(), pc.addTransceiver("audio").receiver, consumer, video=False)
        track.stats = StreamStatistics(48000)
        track.stats.add(RtpPacket(sequence_number=9, timestamp=0))  # aiortc counts an SSRC's first packet
        track.level_id = 1
        header = bytes([0x90 | 0x20, 0x80 | 111, 0, 10]) + (960).to_bytes(4, "big") + bytes(4)
        extension = bytes([0xBE, 0xDE, 0, 1, 0x10, 0x80 | 37, 0, 0])  # id 1, one byte: voice, -37 dBov
        track.on_srtp(header + extension + b"opus" + bytes([0, 0, 3]))  # 3 bytes of padding
        assert consumer.packets == [(b"opus", 10, 960, 1, 37)]
        assert track.stats.packets_received == 2 and track.stats.max_seq == 10
        for broken in (header[:8], header + extension[:3], bytes([0x90]) + header[1:] + bytes([0xBE, 0xDE, 0, 9])):
            track.on_srtp(broken)
        assert len(consumer.packets) == 1
    finally:
        await pc.close()


def drop_upstream(room: Room, participant_id: str, drop: Callable[[int], bool]) -> None:
    """Drop, at the server's socket callback, the publisher's RTP datagrams whose sequence number
    (not encrypted by SRTP) ``drop`` picks: a loss on the publisher's uplink."""
    inbound = room.engine._rooms["s1"].peers[participant_id].inbound
    assert inbound is not None
    for protocol in list(inbound._hooks.wrapped):
        forward = protocol.datagram_received

        def datagram_received(data: bytes, addr: Any, forward: Any = forward) -> None:
            if 127 < data[0] < 192 and not 191 < data[1] < 224 and drop(int.from_bytes(data[2:4], "big")):
                return
            forward(data, addr)

        protocol.datagram_received = datagram_received


def nacks_for(seen: list[Any], seq: int) -> int:
    return sum(1 for p in seen if isinstance(p, RtcpRtpfbPacket) and p.fmt == RTCP_RTPFB_NACK and seq in p.lost)


async def video_from_a_alone(room: Room) -> tuple[Any, list[Any]]:
    """Client "a" publishes a pattern video nobody receives (no subscriber, whose NACKs and PLIs would
    reach the publisher too): its inbound video track once 20 packets took the lean path, and the RTCP
    its video sender is handed from now on."""
    await room.policy({"a"})
    a = room.client("a")
    await a.publish(PatternVideo())
    assert a.publisher is not None
    seen = record_handed(a.publisher.getSenders()[0], "_handle_rtcp_packet")
    await wait_for(lambda: "video" in _tracks(room, "a") and _tracks(room, "a")["video"].lean_packets > 20, timeout=10)
    return _tracks(room, "a")["video"], seen


async def test_a_missing_upstream_packet_is_nacked_again_after_the_retry_interval(room: Room) -> None:
    """The packet and the publisher's first resend of it are both lost: our own retry asks again."""
    track, seen = await video_from_a_alone(room)
    lost: list[int] = []

    def drop(seq: int) -> bool:
        if not lost:
            lost.append(seq)
        if seq == lost[0] and len(lost) < 3:
            lost.append(seq)  # the original, then the first resend
            return True
        return False

    drop_upstream(room, "a", drop)
    await wait_for(lambda: bool(lost) and nacks_for(seen, lost[0]) >= 2, timeout=10)
    await wait_for(lambda: lost[0] not in track.missing, timeout=5)  # the second resend came through
    assert nacks_for(seen, lost[0]) <= MAX_NACKS


async def test_a_subscribers_nack_for_a_packet_that_never_reached_us_goes_upstream(room: Room) -> None:
    """The server's own gap timers stand still (its clock is held), so only the subscriber's NACK,
    for a packet the server never had, can ask the publisher for it."""
    _a, b, seen = await room.video_from_a_to_b()
    inbound = room.engine._rooms["s1"].peers["a"].inbound
    assert inbound is not None
    held = time.monotonic()
    inbound.set_clock(lambda: held)
    track = _tracks(room, "a")["video"]
    peer = room.engine._rooms["s1"].peers["b"]
    assert peer.rtcp is not None
    feedback = peer.rtcp.feedback_received
    lost: list[int] = []

    def drop(seq: int) -> bool:
        if not lost:
            lost.append(seq)
            return True
        return False

    drop_upstream(room, "a", drop)
    await wait_for(lambda: bool(lost) and nacks_for(seen, lost[0]) >= 1, timeout=10)
    assert peer.rtcp.feedback_received > feedback  # it came from the subscriber
    await wait_for(lambda: lost[0] not in track.missing, timeout=5)
    frames = b.received[(stream_id_for("a"), "video")].frames
    await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= frames + 15, timeout=5)


def drop_an_outage(room: Room, publisher: str) -> list[int]:
    """Drop one run of ``publisher``'s packets on the way in, longer than repair is worth
    (``MAX_REPAIR_GAP`` + 1); the list fills with their sequence numbers as they are dropped."""
    outage: list[int] = []

    def drop(seq: int) -> bool:
        if len(outage) <= MAX_REPAIR_GAP:
            outage.append(seq)
            return True
        return False

    drop_upstream(room, publisher, drop)
    return outage


def plis(seen: list[Any]) -> int:
    """The PLIs the publisher's sender was handed so far."""
    return sum(1 for p in seen if isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_PLI)


async def test_a_gap_beyond_repair_asks_the_publisher_for_one_keyframe(
    room: Room, caplog: pytest.LogCaptureFixture
) -> None:
    """An outage longer than repair is worth: no NACKs for what was lost, one PLI for the subscriber,
    and no other of the server's own while the stream goes on well past the keyframe-request interval
    (the subscriber may ask for one itself: relayed, and told apart in the log)."""
    caplog.set_level(logging.DEBUG, logger="server.media.forwarder")
    _a, _b, seen = await room.video_from_a_to_b()
    track = _tracks(room, "a")["video"]
    inbound = room.engine._rooms["s1"].peers["a"].inbound
    assert inbound is not None

    def asked() -> int:
        return caplog.text.count("a gap beyond repair upstream")

    before = plis(seen)
    outage = drop_an_outage(room, "a")
    await wait_for(lambda: plis(seen) > before, timeout=15)
    assert inbound.unrepairable_gaps == 1
    after = track.lean_packets
    await wait_for(lambda: track.lean_packets >= after + 60, timeout=15)  # seconds of video past the PLI
    assert asked() == 1
    assert not any(nacks_for(seen, seq) for seq in outage)


async def test_a_gap_beyond_repair_on_a_video_nobody_receives_asks_for_no_keyframe(room: Room) -> None:
    """Nobody is sent the video (every copy on another simulcast layer, or paused): a keyframe is a
    burst on the publisher's uplink for nothing, on every layer at once (a browser encodes its layers
    together). Whoever moves to it or resumes asks for its own."""
    track, seen = await video_from_a_alone(room)
    inbound = room.engine._rooms["s1"].peers["a"].inbound
    assert inbound is not None

    before = plis(seen)
    drop_an_outage(room, "a")
    await wait_for(lambda: inbound.unrepairable_gaps == 1, timeout=15)
    after = track.lean_packets
    await wait_for(lambda: track.lean_packets >= after + 60, timeout=15)
    assert plis(seen) == before
