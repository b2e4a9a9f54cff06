"""The compiled receive path (``_fastpath.Inlet``) guards, reads, counts and NACKs as the Python one does.

``seam.guard.admit`` + ``LeanReceiver``'s socket callback + ``InboundTrack.on_srtp`` are the
reference; the ``Inlet`` does the same in C. Both get the same datagrams (SRTP protected by a real
libsrtp session, each path unprotecting with its own session on the same key; junk of every shape,
from the address ICE proved and from strangers) and must hand the same packets on, drop the same
ones for the same reasons, count the same statistics and send the same NACKs.
"""

from __future__ import annotations

import functools
import gc
import os
import random
import struct
import weakref
from typing import Any

import pylibsrtp
import pytest
from aiortc.rtcrtpreceiver import StreamStatistics
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pylibsrtp import Policy, Session

from server.media import repair
from server.media.seam import compiled, inbound
from server.media.seam.guard import DROP_REASONS, FIRST_DROP, STUN_COOKIE, admit
from server.media.seam.inbound import MAX_NACKS, MAX_REPAIR_GAP, NACK_WINDOW, InboundTrack
from server.media.seam.receive import LeanReceiver
from server.media.seam.transport import SRTCP_MAX, fast_srtp
from tests.media.clients import Collect

SSRC = 0x1234ABCD
LEVEL_ID = 1
TCC_ID = 3  # the transport-wide sequence number's extension id (``transport_cc``)
PEER = ("127.0.0.1", 1)  # the address the connection's ICE checks proved
STRANGER = ("127.0.0.1", 2)  # anyone else on the internet
VIDEO_TIMESTAMP = 3000


def session(key: bytes, outbound: bool) -> Session:
    kind = Policy.SSRC_ANY_OUTBOUND if outbound else Policy.SSRC_ANY_INBOUND
    return Session(Policy(key=key, ssrc_type=kind, srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_128_GCM))


class Clock:
    """The clock both paths time their gaps by (``LeanReceiver.clock``): the test moves it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Path:
    """One receive path (Python or compiled) wired as ``LeanReceiver.register`` wires it."""

    def __init__(
        self, key: bytes, video: bool, use_inlet: bool, first_seq: int, original: Any = None, clock: Any = None
    ) -> None:
        self.receiver = LeanReceiver(compiled_path=use_inlet, clock=clock or Clock())
        self.consumer = Collect()
        self.nacks: list[list[int]] = []
        self.others: list[bytes] = []
        track = InboundTrack(self.receiver, None, self.consumer, video)  # type: ignore[arg-type]
        track.ssrc, track.level_id = SSRC, LEVEL_ID
        track.stats = StreamStatistics(90000 if video else 48000)
        track.stats.max_seq, track.stats.base_seq, track.stats.packets_received = first_seq, first_seq, 1
        # Video packets here share one timestamp (``video``): as the last one's, the jitter stays 0.
        track.stats._last_arrival, track.stats._last_timestamp = 0, VIDEO_TIMESTAMP if video else 0
        if video:
            track._high = first_seq
        self.track = track
        self.handle: Any = object()  # stands in for the RTCRtpReceiver the track is filed under
        self.receiver.tracks[self.handle] = track
        rx = self.rx = session(key, outbound=False)  # kept: fast_srtp does not hold the Session
        self.receiver.send_nack = lambda _track, lost: self.nacks.append(lost)  # type: ignore[method-assign]
        self.feedbacks: list[bytes | None] = []
        self.receiver.send_feedback = lambda: self.feedbacks.append(self.receiver.feedback())  # type: ignore[method-assign]
        self.receiver.validated = {PEER}
        self.hook = self.receiver._hook(original or (lambda data, addr: self.others.append(data)))
        self.receiver.set_transport_cc(TCC_ID)
        self.receiver._unprotect = fast_srtp(rx, unprotect=True)
        self.receiver._by_ssrc[SSRC.to_bytes(4, "big")] = track
        inlet: Any = self.receiver._inlet
        if inlet is not None:
            inlet.set_session(rx, compiled.context_capsule(rx))
            stats = track.stats
            inlet.add(
                SSRC,
                self.consumer.on_rtp,
                lambda lost: self.nacks.append(lost),
                self.consumer.on_unrepairable,
                video,
                LEVEL_ID,
                90000.0 if video else 48000.0,
                stats.packets_received,
                stats.max_seq,
                stats.cycles,
                stats._jitter_q4,
                stats._last_arrival,
                stats._last_timestamp,
                track._high,
                [],
            )

    def seen(self) -> tuple[Any, ...]:
        self.receiver.sync(self.track)
        s = self.track.stats
        return (
            self.consumer.packets,
            self.nacks,
            self.others,
            s.packets_received,
            s.max_seq,
            s.cycles,
            s._last_timestamp,
            self.track.lean_packets,
            sorted(self.track.missing),
            self.receiver.drops.by_reason(),
            self.consumer.unrepairable,
            self.consumer.unrepairable_why,
            self.feedbacks,
        )


def rtp(
    seq: int,
    timestamp: int,
    payload: bytes,
    marker: int = 0,
    level: int | None = None,
    padding: int = 0,
    transport_seq: int | None = None,
) -> bytes:
    first = 0x80 | (0x10 if level is not None or transport_seq is not None else 0) | (0x20 if padding else 0)
    header = struct.pack("!BBHII", first, (marker << 7) | 96, seq & 0xFFFF, timestamp & 0xFFFFFFFF, SSRC)
    elements = bytes([LEVEL_ID << 4, 0x80 | level]) if level is not None else b""
    if transport_seq is not None:
        elements += bytes([TCC_ID << 4 | 1]) + (transport_seq & 0xFFFF).to_bytes(2, "big")
    elements += bytes(-len(elements) % 4)
    extension = bytes([0xBE, 0xDE, 0, len(elements) // 4]) + elements if elements else b""
    pad = bytes(padding - 1) + bytes([padding]) if padding else b""
    return header + extension + payload + pad


def both(
    video: bool, arrivals: list[tuple[int | None, bytes]], first_seq: int, steps: list[float] | None = None
) -> tuple[Path, Path]:
    """Deliver packets in arrival order to both paths. Each ours carries its index in the sender's
    order (the publisher protects each once, in order; the network reorders and duplicates).
    ``steps``: seconds the paths' shared clock moves on before each arrival (default: it stands still)."""
    key = os.urandom(28)
    tx = session(key, outbound=True)
    ours = {index: packet for index, packet in arrivals if index is not None}
    sent = {index: tx.protect(ours[index]) for index in sorted(ours)}
    clock = Clock()
    python, inlet = Path(key, video, False, first_seq, clock=clock), Path(key, video, True, first_seq, clock=clock)
    assert python.receiver._inlet is None and inlet.receiver._inlet is not None
    for n, (index, packet) in enumerate(arrivals):
        clock.now += steps[n] if steps else 0.0
        data = packet if index is None else sent[index]
        python.hook(data, PEER)
        inlet.hook(data, PEER)
    return python, inlet


def stun(body: bytes = b"", cookie: bytes = STUN_COOKIE, length: int | None = None) -> bytes:
    """A STUN binding request header (RFC 5389) and ``body`` as its attributes."""
    size = len(body) if length is None else length
    return struct.pack("!HH", 0x0001, size) + cookie + os.urandom(12) + body


def guarded(datagrams: list[tuple[bytes, Any]], original: Any = None) -> tuple[Path, Path]:
    """Both paths behind their guards, one SSRC known (so a stranger's RTP with it would be unprotected)."""
    key = os.urandom(28)
    python, inlet = Path(key, True, False, 100, original), Path(key, True, True, 100, original)
    for data, addr in datagrams:
        python.hook(data, addr)
        inlet.hook(data, addr)
    return python, inlet


def test_the_compiled_path_is_built() -> None:
    assert compiled.BUILT is not None, "server/media/_fastpath.c is not built: pip install -e . compiles it"


def test_audio_levels_padding_and_strangers_are_handled_alike() -> None:
    packets = [
        (11, rtp(11, 960, b"opus-a", level=37)),
        (12, rtp(12, 1920, b"opus-b", level=90, padding=3)),
        (13, rtp(13, 2880, b"opus-c", marker=1)),
        (None, struct.pack("!BBHII", 0x80, 96, 14, 0, 0x0BADF00D) + b"someone else"),  # an SSRC not known yet
        (None, bytes([0x80, 200]) + bytes(30)),  # RTCP: aiortc's way
    ]
    python, inlet = both(False, packets, first_seq=10)
    assert python.seen() == inlet.seen()
    assert [p[4] for p in inlet.consumer.packets] == [37, 90, -1]
    assert inlet.consumer.packets[1][0] == b"opus-b" and len(inlet.others) == 2


def video(seq: int, timestamp: int = VIDEO_TIMESTAMP) -> bytes:
    """A video packet; one timestamp for all by default (one large frame), so the measured jitter,
    which the reorder allowance adds, stays 0 on both paths whatever this machine's timing."""
    return rtp(seq, timestamp, bytes([0x90, 0x80, seq & 0x7F]) + b"v" * 50)


def test_video_gaps_are_nacked_and_repaired_alike_across_the_wrap() -> None:
    order = [65530, 65531, 65533, 65534, 65538, 65539, 65532, 65537, 65536, 65540, 65540, 65576, 65577, 65575]
    packets = [(i, video(i)) for i in order]
    python, inlet = both(True, packets, first_seq=65529, steps=[0.03] * len(order))
    assert python.seen() == inlet.seen()
    # 65532 came a step (30 ms) after its NACK: 65535 is NACKed again 40, then 80 ms later (backed off)
    assert inlet.nacks == [[65532], [0, 1, 65535], [65535], list(range(5, 40)), [65535]]
    assert sorted(inlet.track.missing) == [*range(5, 39), 65535]  # 65535 never came
    assert len(inlet.consumer.packets) == len(order) - 1  # the duplicate of 65540 is not handed on


def test_the_compiled_repair_limits_are_the_python_ones() -> None:
    built = compiled.BUILT
    for name in ("NACK_WINDOW", "REORDER_DELAY", "REORDER_JITTERS", "MAX_REORDER_DELAY", "NACK_RETRY_INTERVAL"):
        assert getattr(built, name) == getattr(inbound, name), name
    assert (built.MAX_NACKS, built.MAX_REPAIR_GAP) == (MAX_NACKS, MAX_REPAIR_GAP)


STEP = 0.0625  # seconds between arrivals: exact in binary, so no sum of them lands a hair short of a limit


def handed(path: Path) -> list[int]:
    return [packet[1] for packet in path.consumer.packets]


def test_a_packet_reordered_within_the_allowance_is_not_nacked() -> None:
    order = [11, 13, 12, 14, 15]
    steps = [0.0, 0.005, 0.005, 0.005, 0.005]  # 12 comes 5 ms after the gap opened (the allowance is 20)
    python, inlet = both(True, [(i, video(i)) for i in order], first_seq=10, steps=steps)
    assert python.seen() == inlet.seen()
    assert inlet.nacks == [] and handed(inlet) == order


def test_a_missing_packet_is_nacked_again_each_retry_interval_then_given_up_for_one_keyframe() -> None:
    """12 never comes: NACKed once past the allowance, again a retry interval later and then at doubling
    intervals, MAX_NACKS times in all; a (backed-off) interval after the last it is beyond repair (one
    keyframe request), and when the publisher's answer comes after all it is not handed on (the
    keyframe replaces it)."""
    last = 13 + 32  # no round trip measured: waits of 100, 200, 400, 500 and 500 ms, 30 steps in all
    order = [11, *range(13, last), 12, last]
    python, inlet = both(True, [(i, video(i)) for i in order], first_seq=10, steps=[STEP] * len(order))
    assert python.seen() == inlet.seen()
    assert inlet.nacks == [[12]] * MAX_NACKS
    assert inlet.consumer.unrepairable_why == [inbound.NACKS_SPENT] and inlet.track.missing == set()
    assert handed(inlet) == [i for i in order if i != 12]


def picture(seq: int, picture_id: int) -> bytes:
    """A picture in one packet: the start of its first partition, its PictureID, the marker (its end)."""
    return rtp(seq, VIDEO_TIMESTAMP, bytes([0x90, 0x80, 0x80 | picture_id >> 8, picture_id & 0xFF]) + b"v" * 50, 1)


def probe(seq: int) -> bytes:
    """A padding-only packet, as a browser sends to probe its link's capacity (it never resends one)."""
    return rtp(seq, VIDEO_TIMESTAMP, b"", padding=200)


def test_lost_padding_between_whole_pictures_is_given_up_without_a_keyframe() -> None:
    """13 (probe padding between pictures 0x7FFF and 0, one apart) never comes: NACKed MAX_NACKS times,
    then forgotten without a keyframe request. In the lab at 2% loss the server asked every publisher
    for a keyframe every 2-3 s for padding its browser never resends, and every subscriber froze."""
    packets = {11: picture(11, 0x7FFF), 12: probe(12), 14: probe(14), 15: picture(15, 0)}
    packets |= {i: picture(i, i - 15) for i in range(16, 48)}
    order = sorted(packets)
    python, inlet = both(True, [(i, packets[i]) for i in order], first_seq=10, steps=[STEP] * len(order))
    assert python.seen() == inlet.seen()
    assert inlet.nacks == [[13]] * MAX_NACKS
    assert inlet.consumer.unrepairable == 0 and inlet.track.missing == set()


def test_a_lost_picture_between_whole_pictures_is_still_a_keyframe() -> None:
    """12 never comes and the pictures either side of it are two apart: a picture lost a packet."""
    packets = {11: picture(11, 1), 13: picture(13, 3), **{i: picture(i, i - 10) for i in range(14, 46)}}
    order = sorted(packets)
    python, inlet = both(True, [(i, packets[i]) for i in order], first_seq=10, steps=[STEP] * len(order))
    assert python.seen() == inlet.seen()
    assert inlet.consumer.unrepairable == 1


def test_once_the_publisher_has_answered_a_nack_a_missing_packet_is_asked_again_a_round_trip_later() -> None:
    """12 is NACKed past the allowance and arrives a step (1/64 s) later: the round trip to the publisher.
    20, lost later, is NACKed again that round trip and a margin after its first NACK (two steps), not
    after the default 100 ms (seven steps)."""
    step = 1 / 64
    order = [11, 13, 14, 15, 12, 16, 17, 18, 19, 21, 22, 23, 24, 25]
    python, inlet = both(True, [(i, video(i)) for i in order], first_seq=10, steps=[step] * len(order))
    assert python.seen() == inlet.seen()
    assert inlet.nacks == [[12], [20], [20]]
    assert python.track.rtt == step and python.track.retry_interval == repair.retry_interval(step, 0.1)


def test_receiver_reports_count_what_the_uplink_lost_before_repair() -> None:
    """A retransmission (it fills a gap we NACKed) and a duplicate are not counted as received: the
    publisher's browser reads its uplink's loss from our reports (no RTX stream carries repairs apart),
    and a saturated uplink must look lossy to it however well we repair. A packet reordered within the
    allowance (never NACKed) is counted: it was not lost."""
    step = 1 / 64
    order = [11, 13, 14, 15, 12, 16, 16, 18, 17, 19]  # 12 NACKed then repaired; 16 twice; 17 late, not NACKed
    python, inlet = both(True, [(i, video(i)) for i in order], first_seq=10, steps=[step] * 8 + [0.005, step])
    assert python.seen() == inlet.seen()
    assert inlet.nacks == [[12]] and handed(inlet) == [11, 13, 14, 15, 12, 16, 18, 17, 19]
    assert inlet.track.stats.packets_received == 1 + len(order) - 2  # the first (10), less the repair and the copy
    assert inlet.track.stats.packets_lost == 1  # 12, as the uplink lost it


def test_transport_wide_numbers_are_fed_back_alike_every_feedback_interval() -> None:
    """Each packet's transport-wide number and arrival is noted on both paths (a repair too: the
    publisher's estimate wants every packet its uplink carried; a copy is noted once), and feedback
    goes out on the first arrival past each ``FEEDBACK_INTERVAL``, byte for byte the same."""
    order = [11, 12, 14, 13, 15, 15, 17, 18, 16, 19, 20, 21]
    packets = [(i, rtp(i, VIDEO_TIMESTAMP, b"\x90\x80\x01v", level=5, transport_seq=1000 + i)) for i in order]
    python, inlet = both(True, packets, first_seq=10, steps=[0.03] * len(order))
    assert python.seen() == inlet.seen()
    assert len(inlet.feedbacks) == 3 and all(inlet.feedbacks), "at 0, 120 and 240 ms of 330"
    reported = sum(struct.unpack_from("!H", packet, 14)[0] for packet in inlet.feedbacks if packet)
    assert reported == 1 + 4 + 3, "each number once (15's copy too): the rest waits for the next feedback"
    assert [level for *_, level in inlet.consumer.packets] == [5] * len(inlet.consumer.packets)


def test_an_ssrcs_first_packets_on_aiortcs_path_and_the_rest_on_the_inlet_share_one_feedback_interval() -> None:
    """A stream's first packets come through aiortc (``LeanReceiver.arrived``), the rest through the
    compiled ``Inlet``: feedback still goes out once per ``FEEDBACK_INTERVAL``, not once per path."""
    key = os.urandom(28)
    tx = session(key, outbound=True)
    clock = Clock()
    path = Path(key, True, True, 10, clock=clock)
    path.receiver.arrived(1000)  # the SSRC's first packet, read by aiortc: the first feedback
    assert len(path.feedbacks) == 1
    for i in range(11, 15):  # the inlet's first arrivals, 30 ms apart: within the interval, then past it
        clock.now += 0.03
        path.hook(tx.protect(rtp(i, VIDEO_TIMESTAMP, b"\x90\x80\x01v", transport_seq=1000 + i - 10)), PEER)
    assert len(path.feedbacks) == 2, "one at 0 ms (aiortc's path), the next at 120 ms (the inlet's), none between"
    clock.now += 0.03
    path.receiver.arrived(1005)  # aiortc's path again (a new SSRC's first packet): within the inlet's interval
    assert len(path.feedbacks) == 2


def test_a_gap_beyond_repair_asks_once_for_a_keyframe_and_stale_packets_are_not_handed_on() -> None:
    """An outage: the next packet is MAX_REPAIR_GAP + 1 on. No NACKs for the lost ones, one keyframe
    request; old packets that still turn up (the publisher answering old NACKs) stay here."""
    after = 12 + MAX_REPAIR_GAP + 2
    order = [11, 12, after, *range(20, 30), after + 1, after + 2]
    python, inlet = both(True, [(i, video(i)) for i in order], first_seq=10, steps=[STEP] * len(order))
    assert python.seen() == inlet.seen()
    assert inlet.nacks == [] and inlet.consumer.unrepairable_why == [inbound.GAP_TOO_LONG]
    assert handed(inlet) == [11, 12, after, after + 1, after + 2]


def test_a_subscribers_nack_for_a_packet_we_lack_is_nacked_upstream_at_once() -> None:
    """The clock stands still (the gap is not due by our own timer): the subscriber's NACK for 12, which
    never reached us, is sent upstream at once; its repeat within the retry interval is not; packets
    we have (13) or never waited for (40) are not asked for."""
    python, inlet = both(True, [(i, video(i)) for i in (11, 13, 14)], first_seq=10)
    for path in (python, inlet):
        path.receiver.repair(path.handle, [12, 13, 40])
        path.receiver.repair(path.handle, [12])
    assert python.seen() == inlet.seen()
    assert inlet.nacks == [[12]]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=-40, max_value=200), st.sampled_from([0.0, 0.005, 0.03, 0.15])),
        min_size=1,
        max_size=60,
    ),
    st.integers(0, 65535),
)
def test_any_order_and_timing_of_video_packets_gives_the_same_statistics_and_nacks(
    steps: list[tuple[int, float]], start: int
) -> None:
    indexes, index = [], start + 65536  # never below the first packet's rollover
    for step, _ in steps:
        index = max(start + 1, index + step)
        indexes.append(index)
    packets = [(i, rtp(i, VIDEO_TIMESTAMP, b"\x10\x00" + b"v" * 20, transport_seq=i * 3)) for i in indexes]
    python, inlet = both(True, packets, first_seq=start, steps=[seconds for _, seconds in steps])
    assert python.seen() == inlet.seen()  # transport-cc feedback included


@settings(max_examples=80, deadline=None)
@given(
    st.booleans(),
    st.booleans(),
    st.sampled_from([b"\xbe\xde", b"\x10\x00"]),
    st.integers(0, 4),
    st.binary(max_size=24),
    st.binary(max_size=8),
)
def test_odd_and_malformed_packets_are_read_or_dropped_alike(
    extended: bool, padded: bool, profile: bytes, words: int, extension: bytes, payload: bytes
) -> None:
    """Extension blocks of any length and content, padding counts beyond the packet: both agree."""
    first = 0x80 | (0x10 if extended else 0) | (0x20 if padded else 0)
    header = struct.pack("!BBHII", first, 111, 1, 960, SSRC)
    block = profile + words.to_bytes(2, "big") + extension if extended else b""
    packet = header + block + payload
    try:
        session(os.urandom(28), outbound=True).protect(packet)
    except pylibsrtp.Error:
        assume(False)  # libsrtp will not protect it (an extension beyond the end): it never arrives
    python, inlet = both(False, [(1, packet)], first_seq=0)
    assert python.seen() == inlet.seen()


def test_a_receiver_that_is_never_closed_is_still_collected() -> None:
    """The inlet's NACK callback refers back to its receiver: the collector must see that cycle."""
    receiver = LeanReceiver(compiled_path=True)
    inlet: Any = receiver._inlet
    track = InboundTrack(receiver, None, Collect(), True)  # type: ignore[arg-type]
    inlet.add(SSRC, track.consumer.on_rtp, functools.partial(receiver.send_nack, track), track.consumer.on_unrepairable,
              True, 0, 90000.0,
              1, 0, 0, 0, 0, 0, 0, [])  # fmt: skip
    gone = weakref.ref(receiver)
    del receiver, inlet, track
    gc.collect()
    assert gone() is None


JUNK_SHAPES = [
    b"",
    b"\x00",
    bytes(11),
    bytes(19),
    stun(),  # well formed: on to aioice from anyone
    stun(cookie=b"\x00\x00\x00\x00"),  # no magic cookie
    stun(b"\x00\x03\x00\x02\x00\x00\x00\x00", length=12),  # a length field that does not count the rest
    stun(b"\x00\x03\x00\x02\x00\x00\x00"),  # not a multiple of 4 bytes
    bytes([0x16, 0xFE, 0xFD]) + bytes(10),  # a DTLS record header
    bytes([0x16, 0xFE, 0xFD]) + bytes(9),  # one byte short of one
    bytes([0x80, 0xC8]) + bytes(6),  # an RTCP header
    bytes([0x80, 0xC8]) + bytes(5),
    bytes([0x80, 0x60]) + bytes(6) + SSRC.to_bytes(4, "big"),  # RTP of the known SSRC, not protected
    bytes([0x80, 0x60]) + bytes(9),  # an RTP header less one byte
    bytes([0x80]),
    bytes([0x45]) + bytes(30),  # TURN channel data: not ours
    bytes([0xFF]) * 40,
]


def test_every_junk_shape_gets_the_same_verdict_from_both_paths_and_from_admit() -> None:
    """What the rules say for each shape, from the proven address and from a stranger (IPv6 too)."""
    sources = [PEER, STRANGER, ("::1", 1, 0, 0)]
    datagrams = [(data, addr) for data in JUNK_SHAPES for addr in sources]
    python, inlet = guarded(datagrams)
    assert python.seen() == inlet.seen()
    verdicts = [admit(data, addr, {PEER}) for data, addr in datagrams]
    dropped = {reason: sum(1 for v in verdicts if v - FIRST_DROP == i) for i, reason in enumerate(DROP_REASONS)}
    assert inlet.receiver.drops.by_reason() == dropped
    assert dropped["short"] == 3 * 8 and dropped["malformed"] == 3 * 3 and dropped["unknown_kind"] == 3 * 2
    assert dropped["unknown_source"] == 2 * 3  # a stranger's DTLS, RTCP and RTP; IPv6 ("::1", 1) is no PEER
    passed = [data for (data, addr), v in zip(datagrams, verdicts, strict=True) if v < FIRST_DROP]
    # All that passes reaches aioice, except the RTP of the known SSRC: unprotect refuses it (unauthenticated).
    assert inlet.others == [d for d in passed if d[:2] != bytes([0x80, 0x60])]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.tuples(
            st.sampled_from([0, 3, 20, 63, 128, 191]), st.sampled_from([0, 96, 200, 223]), st.binary(max_size=30)
        ).map(lambda t: bytes(t[:2]) + t[2]),
    ),
    st.booleans(),
)
def test_any_datagram_gets_the_same_verdict_from_both_guards(data: bytes, proven: bool) -> None:
    python, inlet = guarded([(data, PEER if proven else STRANGER)])
    assert python.seen() == inlet.seen()


def test_an_ipv6_source_is_known_by_its_address_and_port_alone() -> None:
    """Sockets give IPv6 sources as (host, port, flowinfo, scope_id); ICE proves (host, port)."""
    key = os.urandom(28)
    paths = [Path(key, True, False, 100), Path(key, True, True, 100)]
    for path in paths:
        path.receiver.validated.add(("::1", 3))  # the set both hooks hold: ICE adds to it as pairs succeed
        path.hook(bytes([0x16, 0xFE, 0xFD]) + bytes(10), ("::1", 3, 0, 0))
        path.hook(bytes([0x16, 0xFE, 0xFD]) + bytes(10), ("::1", 4, 0, 0))
    assert paths[0].seen() == paths[1].seen()
    assert len(paths[1].others) == 1 and paths[1].receiver.drops.by_reason()["unknown_source"] == 1


def test_an_exception_from_aioice_is_counted_by_both_paths_and_never_raised() -> None:
    """aioice's STUN parser raises ``struct.error`` on an attribute of the wrong length (CHANGE-REQUEST, 2 bytes)."""
    from aioice import stun as aioice_stun

    def aioice_parser(data: bytes, addr: Any) -> None:
        aioice_stun.parse_message(data)

    short_attribute = stun(b"\x00\x03\x00\x02\x00\x00\x00\x00")
    python, inlet = guarded([(short_attribute, STRANGER)] * 3, original=aioice_parser)
    assert python.receiver.drops.by_reason()["refused"] == inlet.receiver.drops.by_reason()["refused"] == 3


def test_random_bytes_in_bulk_are_dropped_alike() -> None:
    rng = random.Random(7)
    datagrams = [(rng.randbytes(rng.randrange(0, 200)), rng.choice([PEER, STRANGER])) for _ in range(2000)]
    python, inlet = guarded(datagrams)
    assert python.seen() == inlet.seen()


def test_a_datagram_longer_than_any_srtp_packet_is_refused_alike_and_never_raises() -> None:
    """Found by bench/fuzz_fastpath.py: the known SSRC from the proven address, 1600 bytes. The Python
    path's unprotect raised ValueError out of the socket callback; the compiled path drops it."""
    too_long = rtp(1, 960, bytes(1600))
    python, inlet = guarded([(too_long, PEER)])
    assert python.seen() == inlet.seen()
    assert inlet.consumer.packets == [] and inlet.others == []


@pytest.mark.parametrize("rtcp", [False, True])
def test_unprotect_refuses_an_over_long_datagram_as_it_refuses_a_forgery(rtcp: bool) -> None:
    """Both socket callbacks (RTP here, SRTCP in seam.rtcp) drop on ``pylibsrtp.Error`` alone."""
    unprotect = fast_srtp(session(os.urandom(28), outbound=False), unprotect=True, rtcp=rtcp)
    with pytest.raises(pylibsrtp.Error):
        unprotect(bytes([0x80, 0xC8 if rtcp else 0x60]) + bytes(SRTCP_MAX + 2000))


def test_lost_padding_on_a_layer_sending_nothing_else_is_given_up_without_a_keyframe() -> None:
    """A top layer whose encoder is off (a starved CPU, a low estimate) carries padding alone, for
    hundreds of packets: no picture to tell by, padding on both sides of what was lost."""
    packets = {i: probe(i) for i in range(11, 60) if i != 20}
    order = sorted(packets)
    python, inlet = both(True, [(i, packets[i]) for i in order], first_seq=10, steps=[STEP] * len(order))
    assert python.seen() == inlet.seen()
    assert inlet.nacks == [[20]] * MAX_NACKS
    assert inlet.consumer.unrepairable == 0 and inlet.track.missing == set()


FAST_STEP = 1 / 1024  # seconds between arrivals: a gap falls out of the window long before its NACKs are spent


def test_lost_padding_that_falls_out_of_the_window_is_forgotten_without_a_keyframe() -> None:
    """A browser probing its link sends padding by the hundred a second: a lost probe (20, between
    pictures 1 and 2) falls out of the window before its NACKs are spent. It is forgotten there, as it
    would be once spent; in the lab a top layer's lost probe asked its publisher for a keyframe."""
    packets = {11: picture(11, 1), **{i: probe(i) for i in range(12, 40) if i != 20}}
    packets |= {i: picture(i, i - 38) for i in range(40, 40 + NACK_WINDOW)}
    order = sorted(packets)
    python, inlet = both(True, [(i, packets[i]) for i in order], first_seq=10, steps=[FAST_STEP] * len(order))
    assert python.seen() == inlet.seen()
    assert inlet.nacks and len(inlet.nacks) < MAX_NACKS, "NACKed, not given up, before it fell out"
    assert inlet.consumer.unrepairable == 0 and inlet.track.missing == set()


def test_a_lost_picture_packet_that_falls_out_of_the_window_is_one_keyframe() -> None:
    """20 (picture 9, between pictures 8 and 10) falls out of the window still open: a picture lost a
    packet, and no NACK can bring it now."""
    packets = {i: picture(i, i - 11) for i in range(11, 20 + NACK_WINDOW + 2) if i != 20}
    order = sorted(packets)
    python, inlet = both(True, [(i, packets[i]) for i in order], first_seq=10, steps=[FAST_STEP] * len(order))
    assert python.seen() == inlet.seen()
    assert inlet.consumer.unrepairable_why == [inbound.GAP_OUT_OF_WINDOW] and inlet.track.missing == set()


def test_lost_padding_on_a_padding_only_layer_falls_out_of_the_window_forgotten() -> None:
    """A layer whose encoder is off probes with padding alone, fast: padding on both sides of the loss."""
    packets = {i: probe(i) for i in range(11, 20 + NACK_WINDOW + 2) if i != 20}
    order = sorted(packets)
    python, inlet = both(True, [(i, packets[i]) for i in order], first_seq=10, steps=[FAST_STEP] * len(order))
    assert python.seen() == inlet.seen()
    assert inlet.consumer.unrepairable == 0 and inlet.track.missing == set()
