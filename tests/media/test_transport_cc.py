"""Transport-cc feedback (``server.media.transport_cc``) read back by a decoder written from the draft.

draft-holmer-rmcat-transport-wide-cc-extensions-01, section 3.1: the decoder below is the reference,
written from the text (run-length and both status vector chunks, small and large deltas, padding),
not from the encoder: what it reads must be what arrived, to the 250 us the format keeps.
"""

from __future__ import annotations

import struct

from hypothesis import example, given, settings
from hypothesis import strategies as st

from server.media.transport_cc import (
    FMT_TRANSPORT_CC,
    MAX_REPORTED,
    RTCP_RTPFB,
    TICK_US,
    TRANSPORT_CC_URI,
    ArrivalLog,
    offered_extension_id,
)


def decode(packet: bytes) -> tuple[int, int, dict[int, int], int]:
    """(base sequence number, status count, {seq: arrival in us}, feedback count) of one packet."""
    first, packet_type, words = struct.unpack_from("!BBH", packet)
    assert first >> 6 == 2 and first & 0x1F == FMT_TRANSPORT_CC and packet_type == RTCP_RTPFB
    assert (words + 1) * 4 == len(packet), "the length field covers the packet"
    end = len(packet) - (packet[-1] if first & 0x20 else 0)
    _sender, _media, base, count, word = struct.unpack_from("!IIHHI", packet, 4)
    reference = word >> 8
    if reference & 0x800000:
        reference -= 1 << 24
    at, symbols = 20, []
    while len(symbols) < count:
        (chunk,) = struct.unpack_from("!H", packet, at)
        at += 2
        if not chunk & 0x8000:  # run length: 2-bit symbol, 13-bit run
            symbols += [(chunk >> 13) & 3] * (chunk & 0x1FFF)
        elif not chunk & 0x4000:  # status vector of fourteen 1-bit symbols
            symbols += [(chunk >> (13 - i)) & 1 for i in range(14)]
        else:  # status vector of seven 2-bit symbols
            symbols += [(chunk >> (12 - 2 * i)) & 3 for i in range(7)]
    arrivals, time = {}, reference * 64_000
    for index, symbol in enumerate(symbols[:count]):
        assert symbol != 3, "reserved symbol"
        if symbol == 1:
            time += packet[at] * TICK_US
            at += 1
        elif symbol == 2:
            time += struct.unpack_from("!h", packet, at)[0] * TICK_US
            at += 2
        else:
            continue
        arrivals[(base + index) & 0xFFFF] = time
    assert at <= end <= len(packet) and end - at < 4, "deltas end where the padding starts"
    return base, count, arrivals, word & 0xFF


def test_an_offer_names_the_extension_id_and_only_a_one_byte_one_is_taken() -> None:
    offer = f"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:3 {TRANSPORT_CC_URI}\r\n"
    assert offered_extension_id(offer) == 3
    assert offered_extension_id(offer.replace("extmap:3", "extmap:17")) is None
    assert offered_extension_id("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n") is None


def test_every_packet_is_reported_once_received_or_not_in_order_of_its_number() -> None:
    log = ArrivalLog()
    for seq, at in [(10, 1.000), (11, 1.010), (13, 1.030), (12, 1.025)]:  # 12 reordered
        log.add(seq, at)
    base, count, arrivals, number = decode(log.feedback(1, 2) or b"")
    assert (base, count, number) == (10, 4, 0)
    assert sorted(arrivals) == [10, 11, 12, 13]
    log.add(15, 1.050)
    base, count, arrivals, number = decode(log.feedback(1, 2) or b"")
    assert (base, count, sorted(arrivals), number) == (14, 2, [15], 1), "14 reported lost, once"
    log.add(14, 1.060)  # late: the sender has judged it lost already
    assert log.feedback(1, 2) is None
    assert log.feedback(1, 2) is None, "nothing new, nothing sent"


def test_a_long_loss_is_one_run_length_chunk() -> None:
    log = ArrivalLog()
    log.add(100, 5.0)
    log.add(400, 5.5)
    packet = log.feedback(1, 2) or b""
    base, count, arrivals, _ = decode(packet)
    assert (base, count, sorted(arrivals)) == (100, 301, [100, 400])
    assert len(packet) <= 32, "a run of 299 lost packets takes one chunk, not 43 vectors"


def test_a_feedback_covers_at_most_the_newest_packets_it_may_and_sequence_numbers_wrap() -> None:
    log = ArrivalLog()
    for n in range(MAX_REPORTED + 50):
        log.add((0xFFF0 + n) & 0xFFFF, 1.0 + n / 1000)
    base, count, arrivals, _ = decode(log.feedback(1, 2) or b"")
    assert count == MAX_REPORTED and base == (0xFFF0 + 50) & 0xFFFF
    assert len(arrivals) == MAX_REPORTED


@settings(max_examples=200, deadline=None)
@example(start=0, at=0.0, steps=[(5, 0.0), (-3, 12.0)])  # 2 arrives 12 s after 5: a feedback must start at it
@given(
    start=st.integers(0, 0xFFFF),
    at=st.floats(0, 1e6, allow_nan=False),
    steps=st.lists(st.tuples(st.integers(-3, 40), st.floats(-0.02, 12.0, allow_nan=False)), min_size=1, max_size=300),
)
def test_what_is_read_back_is_what_arrived_to_the_format_s_resolution(
    start: int, at: float, steps: list[tuple[int, float]]
) -> None:
    """Losses, reordering, duplicates, pauses beyond what one delta holds, and the 16-bit wrap: every
    number from the first to the newest is reported exactly once, its arrival within 250 us."""
    log, arrived, seq, reported = ArrivalLog(), {}, start, {}
    log.add(seq, at)
    arrived[seq] = round(at * 1e6)
    for jump, pause in steps:
        seq = (seq + jump) & 0xFFFF
        at = max(0.0, at + pause)
        log.add(seq, at)
        arrived.setdefault(seq, round(at * 1e6))
        if pause > 5:  # now and then a feedback goes out in the middle
            while (packet := log.feedback(7, 8)) is not None:
                _, _, arrivals, _ = decode(packet)
                assert not reported.keys() & arrivals.keys(), "reported twice"
                reported.update(arrivals)
    while (packet := log.feedback(7, 8)) is not None:
        _, _, arrivals, _ = decode(packet)
        assert not reported.keys() & arrivals.keys(), "reported twice"
        reported.update(arrivals)
    assert reported, "the first packet is always reported"
    period = (1 << 24) * 64_000  # the reference time wraps (receivers unwrap it): compare modulo
    for number, time in reported.items():
        off = (time - arrived[number]) % period
        assert min(off, period - off) < TICK_US, number
