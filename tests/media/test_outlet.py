"""The compiled outlet (server/media/_fastpath.c) puts the same bytes on the wire as the Python path.

``Sink.forward`` + ``LeanSender.send`` are the reference; ``_fastpath.Outlet`` runs the same rules in
C. Each test drives both with the same packets over real UDP sockets on loopback, with real libsrtp
sessions keyed alike (SRTP is deterministic for a key, SSRC and index), and compares what arrives.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pylibsrtp import Policy, Session

from server.media.forwarder import Source
from server.media.pacing import PACING_FACTOR, RESEND_BURST
from server.media.seam import compiled as seam_compiled
from server.media.seam import resend
from server.media.seam.resend import HISTORY_SIZE, KEYFRAME_STALE_NACK, RESEND_INTERVAL, RETRANSMIT_PERCENT
from server.media.seam.send import LeanSender
from server.media.seam.transport import SRTP_TRAILER, srtp_internals
from server.media.sink import COMPILED, RESTART_WINDOW, Sink, Totals
from server.media.vp8 import vp8_is_keyframe, vp8_starts_frame

_fastpath: Any = seam_compiled.BUILT
MID = bytes.fromhex("bede0001") + bytes([0x10, 0x31, 0, 0])  # a one-byte mid extension, as negotiated
KEYFRAME = bytes([0x90, 0x80, 0x01, 0x00]) + b"\x11" * 200  # S bit, partition 0, P bit 0
DELTA = bytes([0x90, 0x80, 0x02, 0x01]) + b"\x22" * 200
MIDDLE = bytes([0x80, 0x80, 0x03]) + b"\x33" * 200  # not a frame start


class Wire:
    """A receiving UDP socket on loopback and what has arrived on it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2)
        self.addr = self.sock.getsockname()

    def take(self, count: int) -> list[bytes]:
        return [self.sock.recv(2048) for _ in range(count)]

    async def arrive(self, count: int) -> list[bytes]:
        """``take`` with the event loop running (paced resends go out from its timers)."""
        loop = asyncio.get_running_loop()
        self.sock.setblocking(False)
        try:
            async with asyncio.timeout(10):
                return [await loop.sock_recv(self.sock, 2048) for _ in range(count)]
        finally:
            self.sock.settimeout(2)

    def nothing_more(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recv(2048)
        except BlockingIOError:
            return True
        finally:
            self.sock.settimeout(2)
        return False


def outbound_session(key: bytes) -> Session:
    return Session(
        policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_128_GCM)
    )


def wired_sender(ssrc: int, key: bytes, tx: socket.socket, to: Any, kind: str = "video") -> LeanSender:
    """A ``LeanSender`` with its fields as ``link()`` sets them once DTLS is up, on a real socket."""
    lean: Any = object.__new__(LeanSender)
    session = outbound_session(key)
    internals = srtp_internals(session)
    assert internals is not None
    lean.session = session
    lean._srtp, lean._cdata, lean._buffer = internals
    lean._limit, lean._length = len(lean._cdata) - SRTP_TRAILER, forwarder_ffi().new("int *")
    lean._protect = session.protect
    lean.ssrc, lean._octets, lean._sent, lean._sr_rtp, lean._sr_ntp = ssrc, 0, 0, 0, 0
    lean.ready, lean.retired, lean.outlet = True, False, None
    lean.sock, lean._addr, lean._buffered = tx, to, None
    lean._ext, lean._payload_at, lean._first, lean._pt, lean._abs_at = MID, 12 + len(MID), 0x90, 96, 0
    lean._history = [None] * HISTORY_SIZE
    lean.kind = kind
    lean.upstream, lean.on_missing = None, None
    lean.reset_repair()
    lean.link = lambda: lean.outlet is None or lean.outlet.linked
    return lean  # type: ignore[no-any-return]


def forwarder_ffi() -> Any:
    import pylibsrtp._binding as binding  # type: ignore[import-not-found]

    return binding.ffi


class Pair:
    """The same subscriber copy twice: through the Python path and through the compiled outlet."""

    def __init__(self, kind: str, seed: int) -> None:
        key = self.key = os.urandom(28)
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.wires = (Wire(), Wire())
        self.leans = (
            wired_sender(4242, key, self.tx, self.wires[0].addr, kind),
            wired_sender(4242, key, self.tx, None, kind),
        )
        random.seed(seed)
        python = Sink("s", kind, self.leans[0], Totals(), compiled=False)
        random.seed(seed)
        compiled = Sink("s", kind, self.leans[1], Totals(), compiled=True)
        self.sinks = (python, compiled)
        lean = self.leans[1]
        context = seam_compiled.context_capsule(lean.session)
        host, port = self.wires[1].addr
        compiled.outlet.attach(lean.session, context, self.tx.fileno(), host, port, lean.ssrc, lean._pt, lean._ext)

    def forward(self, payload: bytes, seq: int, timestamp: int, marker: int = 0) -> tuple[bool, bool]:
        starts = vp8_starts_frame(payload) and vp8_is_keyframe(payload) if self.sinks[0].kind == "video" else False
        python, compiled = (sink.forward(payload, seq, timestamp, marker, starts) for sink in self.sinks)
        return python, compiled

    def arrived(self) -> tuple[list[bytes], list[bytes]]:
        counts = [lean.packets_sent for lean in self.leans]
        return self.wires[0].take(counts[0]), self.wires[1].take(counts[1])

    def plain(self, packets: list[bytes]) -> list[bytes]:
        """The packets as the subscriber reads them (unprotected with the key both paths share)."""
        policy = Policy(
            key=self.key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_128_GCM
        )
        session = Session(policy=policy)
        return [session.unprotect(packet) for packet in packets]

    def close(self) -> None:
        self.sinks[1].outlet.detach()
        self.tx.close()
        for wire in self.wires:
            wire.sock.close()


@pytest.fixture
def pairs() -> Iterator[list[Pair]]:
    made: list[Pair] = []
    yield made
    for pair in made:
        pair.close()


def video_stream() -> Iterator[tuple[bytes, int, int, int]]:
    """Delta frames first (a new subscriber waits), a keyframe, then gaps, a late packet and a wrap:
    under a second of media in all (``STALE_REPAIR_TICKS``), so any of it may be NACKed and resent."""
    seq, ts = 65500, 0xFFFFF000
    for _ in range(3):
        yield DELTA, seq, ts, 1
        seq, ts = seq + 1, ts + 1500
    for payload in (KEYFRAME, MIDDLE, DELTA, MIDDLE):
        yield payload, seq & 0xFFFF, ts & 0xFFFFFFFF, int(payload is DELTA)
        seq, ts = seq + 1, ts + 1500
    missing, seq = seq, seq + 3  # an upstream gap stays a gap downstream
    for _ in range(40):  # across the sequence number and timestamp wraps
        yield DELTA, seq & 0xFFFF, ts & 0xFFFFFFFF, 1
        seq, ts = seq + 1, ts + 1500
    yield MIDDLE, missing & 0xFFFF, ts & 0xFFFFFFFF, 0  # the retransmission NACKed upstream fills the gap


def test_the_outlet_is_built_and_is_what_the_server_uses() -> None:
    assert _fastpath is not None, "server/media/_fastpath.c is not built: pip install -e . compiles it"
    if os.environ.get("HEARTH_COMPILED_FORWARDING", "1") != "0":
        assert COMPILED


def test_compiled_and_python_paths_send_the_same_video_bytes(pairs: list[Pair]) -> None:
    pair = Pair("video", seed=7)
    pairs.append(pair)
    answers = [pair.forward(*packet) for packet in video_stream()]
    assert all(python == compiled for python, compiled in answers)
    assert answers[0] == (False, False)  # waits for a keyframe and says so
    python, compiled = pair.arrived()
    assert len(python) == 45
    assert python == compiled
    assert pair.wires[1].nothing_more()
    outs = [struct.unpack_from("!H", packet, 2)[0] for packet in compiled]
    assert (outs[4] - outs[3]) & 0xFFFF == 4 and (outs[-1] - outs[3]) & 0xFFFF == 1  # the gap, then its repair


def test_a_restart_rebases_both_paths_alike_and_audio_never_waits(pairs: list[Pair]) -> None:
    pair = Pair("audio", seed=11)
    pairs.append(pair)
    payload = b"\x66" * 80
    for seq in range(100, 120):
        assert pair.forward(payload, seq, seq * 960) == (True, True)
    for sink in pair.sinks:
        sink.restart()  # the audio gate reopened after a strict-floor turn
    for seq in range(300, 310):
        assert pair.forward(payload, seq, seq * 960) == (True, True)
    assert pair.forward(payload, 299, 299 * 960) == (True, True)  # from before the restart point: skipped
    python, compiled = pair.arrived()
    assert len(python) == 30
    assert python == compiled
    outs = [struct.unpack_from("!H", packet, 2)[0] for packet in compiled]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(outs)), "no gap across the restart"


def test_nacks_are_answered_from_the_same_history(pairs: list[Pair]) -> None:
    pair = Pair("video", seed=3)
    pairs.append(pair)
    for packet in video_stream():
        pair.forward(*packet)
    _python, compiled = pair.arrived()
    asked = [struct.unpack_from("!H", compiled[i], 2)[0] for i in (2, 5, 9)] + [12345]  # the last was never sent
    for lean in pair.leans:
        lean.retransmit(asked)
    assert pair.wires[0].take(3) == pair.wires[1].take(3) == [compiled[2], compiled[5], compiled[9]]
    assert pair.wires[1].nothing_more()
    python_report, compiled_report = (lean.sender_report() for lean in pair.leans)
    assert python_report[20:28] == compiled_report[20:28]  # the same packet and octet counts


def test_the_compiled_limits_are_the_python_ones() -> None:
    """Each limit is defined once in Python; the C file repeats it, and this holds them equal."""
    assert _fastpath.HISTORY_SIZE == resend.HISTORY_SIZE
    assert _fastpath.RESTART_WINDOW == RESTART_WINDOW
    assert _fastpath.RESEND_INTERVAL == resend.RESEND_INTERVAL
    assert _fastpath.RETRANSMIT_PERCENT == resend.RETRANSMIT_PERCENT
    assert _fastpath.STALE_REPAIR_TICKS == resend.STALE_REPAIR_TICKS


def resends(lean: LeanSender) -> tuple[int, int, int]:
    return lean.retransmitted, lean.resend_repeats, lean.resend_over_budget


def test_a_nack_repeated_within_a_round_trip_is_answered_once(pairs: list[Pair]) -> None:
    """The subscriber asks again before the first answer could arrive: one resend, not two. The clock
    is given (``now``), so the round trip is the rule's and not the test machine's."""
    pair = Pair("video", seed=13)
    pairs.append(pair)
    for packet in video_stream():
        pair.forward(*packet)
    _python, compiled = pair.arrived()
    asked = [struct.unpack_from("!H", compiled[i], 2)[0] for i in (10, 11, 12)]
    now = 1000.0
    for lean in pair.leans:
        assert lean.retransmit(asked, now) == []
        assert lean.retransmit(asked, now + RESEND_INTERVAL / 2) == []
        assert lean.retransmit(asked[1:], now + RESEND_INTERVAL * 0.9) == []
    assert pair.wires[0].take(3) == pair.wires[1].take(3) == compiled[10:13]
    assert pair.wires[0].nothing_more() and pair.wires[1].nothing_more()
    for lean in pair.leans:
        lean.retransmit(asked, now + RESEND_INTERVAL)  # a round trip on: that resend was lost as well
    assert pair.wires[0].take(3) == pair.wires[1].take(3) == compiled[10:13]
    assert resends(pair.leans[0]) == resends(pair.leans[1]) == (6, 5, 0)


def test_the_budget_caps_a_nack_storm(pairs: list[Pair]) -> None:
    """A subscriber NACKing everything, again and again, gets at most RETRANSMIT_PERCENT of what it was
    sent, however often it asks; new traffic and the windows rolling (the report tick) renew it."""
    pair = Pair("video", seed=17)
    pairs.append(pair)
    for packet in video_stream():
        pair.forward(*packet)
    _python, compiled = pair.arrived()
    everything = [struct.unpack_from("!H", packet, 2)[0] for packet in compiled]
    for round_ in range(20):  # each past the resend interval: only the budget holds them back
        for lean in pair.leans:
            lean.retransmit(everything, 1000.0 + round_)
    counts = [resends(lean) for lean in pair.leans]
    assert counts[0] == counts[1]
    resent = counts[1][0]
    python, compiled_again = pair.wires[0].take(resent), pair.wires[1].take(resent)
    assert python == compiled_again and pair.wires[1].nothing_more()
    sent = pair.leans[1].octets
    assert 0 < sum(map(len, compiled_again)) * 100 <= sent * RETRANSMIT_PERCENT
    assert resent < len(everything) // 2 and counts[1][2] > 20 * len(everything) - 2 * resent
    for lean in pair.leans:
        lean.roll_budget()
    seq, ts = 700, 0
    for _ in range(30):
        pair.forward(DELTA, seq, ts, 1)
        seq, ts = seq + 1, ts + 3000
    for lean in pair.leans:
        lean.roll_budget()  # the window before this one holds only the new packets
    python, compiled = pair.wires[0].take(30), pair.wires[1].take(30)
    assert python == compiled
    latest = [struct.unpack_from("!H", packet, 2)[0] for packet in compiled[-3:]]
    for lean in pair.leans:
        lean.retransmit(latest, 2000.0)
    assert pair.wires[0].take(3) == pair.wires[1].take(3) == compiled[-3:]


def sent_at_100_a_second(pairs: list[Pair], seed: int) -> tuple[Pair, list[bytes]]:
    """A video copy that sent 100 packets in the last report window (resends paced at 250 a second),
    and those packets as the subscriber got them (the last 50 not stale)."""
    pair = Pair("video", seed=seed)
    pairs.append(pair)
    now = time.monotonic()
    for lean in pair.leans:
        lean.roll_budget(now - 1.0)
    seq, ts = 100, 0
    for payload in [KEYFRAME] + [DELTA] * 99:  # 100 frames of 900 ticks
        pair.forward(payload, seq, ts, 1)
        seq, ts = seq + 1, ts + 900
    for lean in pair.leans:
        lean.roll_budget(now)
    _python, compiled = pair.arrived()
    return pair, compiled


async def test_a_large_nack_is_resent_paced_alike_by_both_paths(pairs: list[Pair]) -> None:
    """A subscriber NACKs 20 packets at once (within the budget): ``RESEND_BURST`` go out at once, the
    rest at ``PACING_FACTOR`` times the rate the copy was sent at, the same bytes from both paths."""
    pair, compiled = sent_at_100_a_second(pairs, seed=19)
    asked = [struct.unpack_from("!H", packet, 2)[0] for packet in compiled[60:80]]
    asked_at = time.monotonic()
    for lean in pair.leans:
        lean.answer_nack(asked)
    burst = [wire.take(RESEND_BURST) for wire in pair.wires]
    assert burst[0] == burst[1] == compiled[60 : 60 + RESEND_BURST]
    assert pair.wires[0].nothing_more() and pair.wires[1].nothing_more(), "the rest waits its turn"
    rest = [await wire.arrive(20 - RESEND_BURST) for wire in pair.wires]
    paced = time.monotonic() - asked_at
    assert rest[0] == rest[1] == compiled[60 + RESEND_BURST : 80]
    rate = PACING_FACTOR * 100
    assert paced >= 0.9 * (20 - RESEND_BURST) / rate, f"16 resends at {rate:.0f} a second took {paced:.3f} s"
    assert [resends(lean) for lean in pair.leans] == [(20, 0, 0)] * 2


async def test_resends_still_waiting_are_dropped_when_the_route_goes(pairs: list[Pair]) -> None:
    pair, compiled = sent_at_100_a_second(pairs, seed=23)
    asked = [struct.unpack_from("!H", packet, 2)[0] for packet in compiled[60:70]]
    for lean in pair.leans:
        lean.answer_nack(asked)
    burst = [wire.take(RESEND_BURST) for wire in pair.wires]
    assert burst[0] == burst[1] == compiled[60 : 60 + RESEND_BURST]
    for lean in pair.leans:
        assert len(lean._pacer.queue) == 10 - RESEND_BURST and lean._pace_timer is not None
        lean.route_lost()
        assert not lean._pacer.queue and lean._pace_timer is None


async def test_a_paced_resend_that_fails_drops_that_copys_queue_alone(
    pairs: list[Pair], caplog: pytest.LogCaptureFixture
) -> None:
    """A fault in one copy's paced resends (here its history read raises, as a copy torn down under
    the timer might) is logged and drops what that copy had waiting; the other copy's resends go on."""
    pair, compiled = sent_at_100_a_second(pairs, seed=29)
    asked = [struct.unpack_from("!H", packet, 2)[0] for packet in compiled[60:80]]
    for lean in pair.leans:
        lean.answer_nack(asked)
    assert [wire.take(RESEND_BURST) for wire in pair.wires][1] == compiled[60 : 60 + RESEND_BURST]
    faulty: Any = pair.leans[1]

    def broken(lost: list[int], now: float | None = None) -> list[int]:
        raise RuntimeError("torn down")

    faulty.retransmit = broken
    rest = await pair.wires[0].arrive(20 - RESEND_BURST)
    assert rest == compiled[60 + RESEND_BURST : 80], "the healthy copy's resends all went out"
    await wait_until(lambda: faulty._pace_timer is None and not faulty._pacer.queue)
    assert pair.wires[1].nothing_more()
    assert "paced resends failed" in caplog.text


async def wait_until(predicate: Any) -> None:
    async with asyncio.timeout(10):
        while not predicate():
            await asyncio.sleep(0.01)


def test_a_nack_for_video_a_second_stale_asks_for_one_keyframe_instead_of_resending(pairs: list[Pair]) -> None:
    """A subscriber back from an outage NACKs what it missed: packets more than ``STALE_REPAIR_TICKS``
    behind the newest are not resent (its picture would wait behind them), and one keyframe is
    asked for however often it repeats the NACK; what is recent is still resent."""
    pair = Pair("video", seed=23)
    pairs.append(pair)
    seq, ts = 65000, 0xFFFF0000  # two seconds at 20 frames a second, across the timestamp wrap
    pair.forward(KEYFRAME, seq, ts, 1)
    for _ in range(40):
        seq, ts = (seq + 1) & 0xFFFF, (ts + 4500) & 0xFFFFFFFF
        pair.forward(DELTA, seq, ts, 1)
    _python, compiled = pair.arrived()
    outs = [struct.unpack_from("!H", packet, 2)[0] for packet in compiled]
    stale, recent = outs[:15], outs[-5:]  # 1.9-1.2 s behind the newest; 0.2 s and less
    asked: list[list[str]] = [[], []]
    for index, lean in enumerate(pair.leans):
        lean.on_keyframe_request = lambda why, index=index: asked[index].append(why)  # type: ignore[misc]
        for repeat in range(4):  # the browser repeats its NACK for the same packets, within a round trip
            lean.answer_nack(stale + recent, 1000.0 + repeat * RESEND_INTERVAL / 10)
    assert pair.wires[0].take(5) == pair.wires[1].take(5) == compiled[-5:]
    assert pair.wires[0].nothing_more() and pair.wires[1].nothing_more()
    assert [lean.resend_stale for lean in pair.leans] == [60, 60]
    assert asked == [[KEYFRAME_STALE_NACK], [KEYFRAME_STALE_NACK]]
    for _ in range(25):  # over a second of media later, another outage: another keyframe
        seq, ts = (seq + 1) & 0xFFFF, (ts + 4500) & 0xFFFFFFFF
        pair.forward(DELTA, seq, ts, 1)
    later = pair.wires[1].take(25)
    for lean in pair.leans:
        lean.answer_nack([struct.unpack_from("!H", later[0], 2)[0]], 1001.0)
    assert asked == [[KEYFRAME_STALE_NACK] * 2] * 2


def test_a_nack_for_a_packet_that_never_reached_us_names_it_upstream(pairs: list[Pair]) -> None:
    """The history lacks what the publisher never delivered: the outlet gives the publisher's numbers."""
    pair = Pair("video", seed=19)
    pairs.append(pair)
    stream = list(video_stream())[:-1]  # the upstream gap is never repaired
    for packet in stream:
        pair.forward(*packet)
    _python, compiled = pair.arrived()
    outs = [struct.unpack_from("!H", packet, 2)[0] for packet in compiled]
    gap = [(outs[3] + k) & 0xFFFF for k in (1, 2, 3)]
    first_missing = stream[6][1] + 1  # just after the keyframe run (stream[3:7])
    before_start = (outs[0] - 5) & 0xFFFF
    for lean in pair.leans:
        upstream = lean.retransmit([before_start, *gap, outs[5]], 1000.0)
        assert upstream == [(first_missing + k) & 0xFFFF for k in range(3)]
    assert pair.wires[0].take(1) == pair.wires[1].take(1) == [compiled[5]]


def test_a_source_fans_out_to_compiled_outlets_in_one_call(pairs: list[Pair]) -> None:
    made = [Pair("video", seed=s) for s in (1, 2, 3)]
    pairs.extend(made)
    asked: list[int] = []

    async def request_pli(ssrc: int) -> None:
        asked.append(ssrc)

    sources = [Source("p", "video", request_pli, None, Totals()) for _ in range(2)]
    for pair in made:
        for source, sink in zip(sources, pair.sinks, strict=True):
            source.add_sink(sink)
    assert sources[0]._outlets is None and sources[1]._outlets is not None
    for payload, seq, ts, marker in video_stream():
        for source in sources:
            source.on_rtp(payload, seq, ts, marker, -1)
    for pair in made:
        python, compiled = pair.arrived()
        assert python == compiled and len(compiled) == 45
    assert sources[0]._totals is not None and sources[1]._totals is not None
    assert (sources[0]._totals.packets, sources[0]._totals.bytes) == (0, 0)  # pure sinks count their own totals
    assert sources[1]._totals.packets == 3 * 45
    assert sum(pair.sinks[0].totals.packets for pair in made) == 3 * 45


def test_a_detached_outlet_sends_nothing_and_closes_its_socket(pairs: list[Pair]) -> None:
    pair = Pair("audio", seed=5)
    pairs.append(pair)
    outlet = pair.sinks[1].outlet
    before = len(os.listdir("/proc/self/fd"))
    pair.leans[1].route_lost()
    assert not outlet.linked
    assert len(os.listdir("/proc/self/fd")) == before - 1, "the outlet's dup of the socket stays open"
    assert outlet.forward(b"\x66" * 80, 1, 960, 0, False) == _fastpath.UNLINKED
    assert pair.wires[1].nothing_more()


def test_an_outlet_keeps_sending_on_its_own_socket_when_the_event_loop_closes_the_original(pairs: list[Pair]) -> None:
    """The outlet holds a dup: a descriptor number the loop closes and reuses is never written to."""
    pair = Pair("audio", seed=9)
    pairs.append(pair)
    pair.tx.close()
    replacement = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # likely takes the closed number
    try:
        assert pair.sinks[1].forward(b"\x66" * 80, 1, 960, 0, False)
        assert pair.wires[1].take(1)
    finally:
        replacement.close()


@given(st.binary(min_size=0, max_size=12))
def test_the_compiled_keyframe_check_agrees_with_the_python_one(payload: bytes) -> None:
    assert _fastpath.is_vp8_keyframe(payload) == (vp8_starts_frame(payload) and vp8_is_keyframe(payload))
