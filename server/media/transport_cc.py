"""Transport-wide congestion control feedback to a publisher (issue #16): its uplink, measured at our end.

A publisher's browser estimates what its uplink carries from our feedback, as it would from a peer's
(draft-holmer-rmcat-transport-wide-cc-extensions-01): each RTP packet it sends carries a transport-wide
sequence number (one counter over its audio, video and every simulcast layer), and we report back,
every ``FEEDBACK_INTERVAL``, which of them arrived and when. Its delay-based estimator then sees a
queue building at a capped home link before that link drops anything, and its encoder slows down,
dropping the top simulcast layer first; without it, REMB (what we decide subscribers can take) and
receiver reports (loss) were all it had, and a member on a 400 kbit/s uplink sent all layers into it
until it lost 40-60 % (bench/RESULTS.md, sixth session).

Pure: arrival times are given (seconds, any monotonic epoch); the packet path records, the seam sends.
"""

from __future__ import annotations

import struct

from server.media.extmap import extension_ids

TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
FEEDBACK_INTERVAL = 0.1  # seconds between feedback packets to one publisher (libwebrtc's default)
MAX_ARRIVALS = 4096  # arrivals kept between two feedbacks; more (a flood) are not recorded
MAX_REPORTED = 1024  # sequence numbers one feedback covers at most; older open ones are skipped

RTCP_RTPFB = 205
FMT_TRANSPORT_CC = 15
TICK_US = 250  # receive deltas are in 250 us ticks
REFERENCE_US = 64_000  # the reference time is in 64 ms units, 24 bits
NOT_RECEIVED, SMALL_DELTA, LARGE_DELTA = 0, 1, 2
MAX_RUN = 0x1FFF  # a run-length chunk's 13-bit count
VECTOR_SYMBOLS = 7  # a status vector chunk of 2-bit symbols


def offered_extension_id(sdp: str) -> int | None:
    """The id a publisher's offer gives the transport-wide sequence number extension, or None. One id
    for the whole offer (a bundle maps an id to one extension, RFC 8843); only a one-byte id (1-14),
    the form the lean receive path reads (``seam.inbound``), is taken."""
    ids = extension_ids(sdp.splitlines(), TRANSPORT_CC_URI)
    return next((number for number in ids if number is not None and 1 <= number <= 14), None)


class ArrivalLog:
    """One connection's transport-wide sequence numbers and arrival times, until reported.

    Sequence numbers are unwrapped against the highest seen; a feedback covers every number from the
    first not yet reported to the highest arrived, each received or not. A packet arriving after its
    number was reported missing is not reported again (the sender has judged it lost, as it would if a
    peer's feedback had been lost); a retransmission carries a new number anyway.
    """

    def __init__(self) -> None:
        self._arrivals: dict[int, int] = {}  # unwrapped sequence number -> arrival in microseconds
        self._highest = -1  # unwrapped, -1 before the first packet
        self._next = -1  # first unwrapped number not yet reported
        self._count = 0  # feedback packet count, 8 bits

    def add(self, seq: int, at: float) -> None:
        """A packet numbered ``seq`` (16 bits) arrived at ``at`` seconds."""
        if self._highest < 0:
            unwrapped = self._next = seq
        else:
            delta = (seq - self._highest) & 0xFFFF
            unwrapped = self._highest + delta if delta < 0x8000 else self._highest - (0x10000 - delta)
        if unwrapped < self._next or unwrapped in self._arrivals:
            return  # reported already, or a duplicate
        if len(self._arrivals) >= MAX_ARRIVALS:
            return
        self._arrivals[unwrapped] = round(at * 1e6)
        self._highest = max(self._highest, unwrapped)

    def feedback(self, sender_ssrc: int, media_ssrc: int) -> bytes | None:
        """The RTCP transport-cc packet reporting everything since the last one, or None if nothing arrived."""
        if not self._arrivals:
            return None
        start = max(self._next, self._highest - MAX_REPORTED + 1)
        for old in [seq for seq in self._arrivals if seq < start]:
            del self._arrivals[old]
        # The reference is the first received number's arrival (not the earliest arrival: a number
        # arriving seconds out of order would then be too far from it to report, and never would be).
        first_at = self._arrivals[min(self._arrivals)]
        reference = first_at // REFERENCE_US
        previous = reference * REFERENCE_US
        symbols: list[int] = []
        deltas = bytearray()
        seq = start
        while seq <= self._highest:
            at = self._arrivals.pop(seq, None)
            if at is None:
                symbols.append(NOT_RECEIVED)
            else:
                ticks = (at - previous) // TICK_US
                if 0 <= ticks <= 0xFF:
                    symbols.append(SMALL_DELTA)
                    deltas.append(ticks)
                elif -0x8000 <= ticks <= 0x7FFF:
                    symbols.append(LARGE_DELTA)
                    deltas += struct.pack("!h", ticks)
                else:  # too far from the one before: it starts the next feedback
                    self._arrivals[seq] = at
                    break
                previous += ticks * TICK_US
            seq += 1
        self._next = seq
        body = struct.pack("!IIHHI", sender_ssrc, media_ssrc, start & 0xFFFF, len(symbols), self._reference(reference))
        body += chunks(symbols) + bytes(deltas)
        padding = -len(body) % 4
        if padding:
            body += bytes(padding - 1) + bytes([padding])
        words = (4 + len(body)) // 4 - 1
        header = struct.pack("!BBH", 0x80 | (0x20 if padding else 0) | FMT_TRANSPORT_CC, RTCP_RTPFB, words)
        self._count = (self._count + 1) & 0xFF
        return header + body

    def _reference(self, reference: int) -> int:
        """Reference time (24 bits, in 64 ms units) and the feedback packet count (8 bits) in one word."""
        return (reference & 0xFFFFFF) << 8 | self._count


def chunks(symbols: list[int]) -> bytes:
    """Packet status chunks: a run-length chunk for a run of one symbol longer than a vector, else a
    status vector of seven 2-bit symbols (the last one padded with "not received", beyond the count)."""
    out = bytearray()
    at = 0
    while at < len(symbols):
        run = 1
        while at + run < len(symbols) and symbols[at + run] == symbols[at] and run < MAX_RUN:
            run += 1
        if run > VECTOR_SYMBOLS:
            out += struct.pack("!H", symbols[at] << 13 | run)
            at += run
            continue
        vector = symbols[at : at + VECTOR_SYMBOLS]
        word = 0xC000
        for index, symbol in enumerate(vector):
            word |= symbol << (2 * (VECTOR_SYMBOLS - 1 - index))
        out += struct.pack("!H", word)
        at += len(vector)
    return bytes(out)
