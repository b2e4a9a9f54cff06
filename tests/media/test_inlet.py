"""The compiled receive path (``_fastpath.Inlet``) reads, counts and NACKs as the Python one does.

``LeanReceiver``'s socket callback + ``InboundTrack.on_srtp`` are the reference; the ``Inlet`` does
the same in C. Both get the same SRTP packets (protected by a real libsrtp session, each path
unprotecting with its own session on the same key) and must hand the same packets on, count the
same statistics and send the same NACKs.
"""

from __future__ import annotations

import functools
import gc
import os
import struct
import weakref
from typing import Any

import pylibsrtp
from aiortc.rtcrtpreceiver import StreamStatistics
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pylibsrtp import Policy, Session

from server.media.seam import compiled
from server.media.seam.receive import InboundTrack, LeanReceiver
from server.media.seam.transport import fast_srtp
from tests.media.clients import Collect

SSRC = 0x1234ABCD
LEVEL_ID = 1
PEER = ("127.0.0.1", 1)  # the address the connection's ICE checks proved


def session(key: bytes, outbound: bool) -> Session:
    kind = Policy.SSRC_ANY_OUTBOUND if outbound else Policy.SSRC_ANY_INBOUND
    return Session(Policy(key=key, ssrc_type=kind, srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_128_GCM))


class Path:
    """One receive path (Python or compiled) wired as ``LeanReceiver.register`` wires it."""

    def __init__(self, key: bytes, video: bool, use_inlet: bool, first_seq: int) -> None:
        self.receiver = LeanReceiver(compiled_path=use_inlet)
        self.consumer = Collect()
        self.nacks: list[list[int]] = []
        self.others: list[bytes] = []
        track = InboundTrack(self.receiver, None, self.consumer, video)  # type: ignore[arg-type]
        track.ssrc, track.level_id = SSRC, LEVEL_ID
        track.stats = StreamStatistics(90000 if video else 48000)
        track.stats.max_seq, track.stats.base_seq, track.stats.packets_received = first_seq, first_seq, 1
        track.stats._last_arrival, track.stats._last_timestamp = 0, 0
        if video:
            track._high = first_seq
        self.track = track
        rx = self.rx = session(key, outbound=False)  # kept: fast_srtp does not hold the Session
        self.receiver.send_nack = lambda _track, lost: self.nacks.append(lost)  # type: ignore[method-assign]
        self.receiver.validated = {PEER}
        self.hook = self.receiver._hook(lambda data, addr: self.others.append(data))
        self.receiver._unprotect = fast_srtp(rx, unprotect=True)
        self.receiver._by_ssrc[SSRC.to_bytes(4, "big")] = track
        inlet: Any = self.receiver._inlet
        if inlet is not None:
            inlet.set_session(rx, compiled.context_address(rx))
            stats = track.stats
            inlet.add(
                SSRC,
                self.consumer.on_rtp,
                lambda lost: self.nacks.append(lost),
                video,
                LEVEL_ID,
                90000.0 if video else 48000.0,
                stats.packets_received,
                stats.max_seq,
                stats.cycles,
                stats._jitter_q4,
                0,
                0,
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
        )


def rtp(seq: int, timestamp: int, payload: bytes, marker: int = 0, level: int | None = None, padding: int = 0) -> bytes:
    first = 0x80 | (0x10 if level is not None else 0) | (0x20 if padding else 0)
    header = struct.pack("!BBHII", first, (marker << 7) | 96, seq & 0xFFFF, timestamp & 0xFFFFFFFF, SSRC)
    extension = bytes([0xBE, 0xDE, 0, 1, LEVEL_ID << 4, 0x80 | level, 0, 0]) if level is not None else b""
    pad = bytes(padding - 1) + bytes([padding]) if padding else b""
    return header + extension + payload + pad


def both(video: bool, arrivals: list[tuple[int | None, bytes]], first_seq: int) -> tuple[Path, Path]:
    """Deliver packets in arrival order to both paths. Each ours carries its index in the sender's
    order (the publisher protects each once, in order; the network reorders and duplicates)."""
    key = os.urandom(28)
    tx = session(key, outbound=True)
    ours = {index: packet for index, packet in arrivals if index is not None}
    sent = {index: tx.protect(ours[index]) for index in sorted(ours)}
    python, inlet = Path(key, video, False, first_seq), Path(key, video, True, first_seq)
    assert python.receiver._inlet is None and inlet.receiver._inlet is not None
    for index, packet in arrivals:
        data = packet if index is None else sent[index]
        python.hook(data, PEER)
        inlet.hook(data, PEER)
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


def test_video_gaps_are_nacked_and_repaired_alike_across_the_wrap() -> None:
    order = [65530, 65531, 65533, 65534, 65538, 65539, 65532, 65537, 65536, 65540, 65540, 65576, 65577, 65575]
    packets = [(i, rtp(i, i * 3000, bytes([0x90, 0x80, i & 0x7F]) + b"v" * 50)) for i in order]
    python, inlet = both(True, packets, first_seq=65529)
    assert python.seen() == inlet.seen()
    assert inlet.nacks and inlet.nacks[0] == [65532]
    assert sorted(inlet.track.missing) == [*range(5, 39), 65535]  # 65535 never came


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-40, max_value=200), min_size=1, max_size=60), st.integers(0, 65535))
def test_any_order_of_video_packets_gives_the_same_statistics_and_nacks(steps: list[int], start: int) -> None:
    indexes, index = [], start + 65536  # never below the first packet's rollover
    for step in steps:
        index = max(start + 1, index + step)
        indexes.append(index)
    packets = [(i, rtp(i, i * 3000, b"\x10\x00" + b"v" * 20)) for i in indexes]
    python, inlet = both(True, packets, first_seq=start)
    assert python.seen() == inlet.seen()


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
    inlet.add(SSRC, track.consumer.on_rtp, functools.partial(receiver.send_nack, track), True, 0, 90000.0,
              1, 0, 0, 0, 0, 0, 0, [])  # fmt: skip
    gone = weakref.ref(receiver)
    del receiver, inlet, track
    gc.collect()
    assert gone() is None
