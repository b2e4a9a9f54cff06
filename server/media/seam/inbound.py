"""A tapped stream's per-packet work: header, receiver-report statistics, upstream NACKs, hand on.

``InboundTrack`` is what ``LeanReceiver`` (``seam.receive``) hands each packet of a known SSRC to, and
what aiortc's own path feeds through the receiver's ``_Tap`` (an SSRC's first packets). The compiled
``Inlet`` (``_fastpath.c``) does ``on_srtp``'s and ``_nack``'s work by the same rules and constants.
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING, Any, Protocol

from aiortc import RTCRtpReceiver
from aiortc.rtp import RtpPacket

from server.media import repair
from server.media.vp8 import PICTURE_ID_MASK, read_indexes, vp8_starts_frame

if TYPE_CHECKING:
    from server.media.seam.receive import LeanReceiver

NACK_WINDOW = 128  # aiortc's RTP_HISTORY_SIZE: a gap still open this far behind the newest is beyond repair
# Packets whose picture boundaries are kept (``InboundTrack._note``): twice the window, so a gap falling
# out of the window still has its neighbours on both sides to tell lost padding by (``only_padding``).
PICTURE_RING = 2 * NACK_WINDOW
# Upstream repair (issue #16): a gap is NACKed once it has stayed open past the reorder allowance (a
# reordered packet is not lost), again every retry interval while it stays open, and given up after
# MAX_NACKS: a gap beyond repair becomes one keyframe request, not a burst of stale packets.
REORDER_DELAY = 0.02  # seconds a gap stays open before its first NACK ...
REORDER_JITTERS = 2  # ... plus this many times the measured interarrival jitter (RFC 3550) ...
MAX_REORDER_DELAY = 0.08  # ... at most this
# Seconds between NACKs of a packet still missing until a round trip is measured; then one round trip
# (``repair.retry_interval``, sampled from each NACK to the arrival of the packet it asked for).
NACK_RETRY_INTERVAL = 0.1
MAX_NACKS = 5  # NACKs per missing packet; still missing a retry interval after the last: beyond repair
MAX_REPAIR_GAP = 64  # packets lost in a row beyond which a keyframe is cheaper than repair
# Why a gap is beyond repair (``RtpConsumer.on_unrepairable``; the same words in ``_fastpath.c``).
GAP_TOO_LONG = "more than MAX_REPAIR_GAP lost in a row"
GAP_OUT_OF_WINDOW = "a gap fell out of the window"
NACKS_SPENT = "every NACK spent"
# What a received video packet says of picture boundaries (``InboundTrack._note``): by seq % PICTURE_RING,
# (seq, PictureID or PADDING or NO_PICTURE_ID, STARTS | ENDS).
PADDING, NO_PICTURE_ID = -2, -1  # NO_PICTURE_ID: ``vp8.read_indexes``'s -1 for an index not carried
STARTS, ENDS = 2, 1
_RTP_HEADER = struct.Struct("!BBHI")  # first byte, marker + payload type, sequence number, timestamp


class RtpConsumer(Protocol):
    """What a tapped receiver feeds: one call per RTP packet, header fields already read."""

    def on_rtp(self, payload: bytes, seq: int, timestamp: int, marker: int, level: int) -> None:
        """``level`` is an audio packet's RFC 6464 level (-dBov), or -1 when the packet carries none."""

    def on_ssrc(self, ssrc: int) -> None:
        """The publisher's SSRC for this track (again if it changes)."""

    def on_unrepairable(self, why: str) -> None:
        """A gap upstream is beyond repair (``why``: too long, out of the window, or still open after
        every NACK): a keyframe is due."""

    def downstream_loss(self, now: float) -> int:
        """The fraction lost (x/256) to report upstream beside our own: the worst a subscriber reports
        for its copy of this audio (the publisher's Opus adds in-band FEC for its weakest listener)."""

    def on_upstream_loss(self, fraction: float) -> None:
        """The fraction lost (0..1) on the publisher's uplink in our latest receiver report: a
        subscriber's report of this video counts it too, and only the rest is its own link's."""


class InboundTrack:
    """One tapped receiver's per-packet work, done here instead of in ``RTCRtpReceiver``.

    Packets reach ``on_srtp`` from the lean path (unprotected inside the socket callback) or
    ``on_packet`` from aiortc's own path (an SSRC's first packets, before the lean path knows it).
    Receiver-report statistics go into aiortc's own ``StreamStatistics`` for the SSRC, which
    ``LeanReceiver.send_reports`` reads as aiortc's RTCP loop would (with LSR/DLSR from the SRs aiortc
    still handles); gaps are NACKed here, as aiortc's ``NackGenerator`` would (it is off for tapped
    receivers).

    With the compiled path (``compiled.fastpath``) the connection's ``Inlet`` does ``on_srtp``'s work
    in C by these same rules and keeps the statistics and gaps; ``LeanReceiver.sync`` writes them back
    here (before each report, and when ``lean_packets`` or ``missing`` is read).
    """

    def __init__(
        self, owner: LeanReceiver, receiver: RTCRtpReceiver, consumer: RtpConsumer, video: bool, rid: str | None = None
    ) -> None:
        self.owner = owner
        self.rid = rid  # the simulcast layer's RTP stream id, or None (a receiver's one stream)
        self.receiver = receiver
        self.consumer = consumer
        self.video = video
        self.ssrc = -1
        self.stats: Any = None
        self.level_id = 0
        self._lean_packets = 0
        self._high = -1
        self._missing: dict[int, list[Any]] = {}  # seq -> [open since, NACKs sent, last NACK at]
        self._pictures: list[tuple[int, int, int] | None] = [None] * PICTURE_RING  # ``_note``
        self.rtt: float | None = None  # seconds from a NACK to the packet it asked for, smoothed
        self.retry_interval = NACK_RETRY_INTERVAL  # seconds between NACKs of one packet (``repair``)

    @property
    def lean_packets(self) -> int:
        """Packets that took the lean path (tests and diagnostics)."""
        self.owner.sync(self)
        return self._lean_packets

    @property
    def missing(self) -> set[int]:
        """Sequence numbers of upstream gaps not repaired yet (NACKed, or to be NACKed with the next gap)."""
        self.owner.sync(self)
        return set(self._missing)

    def restore(self, stats: tuple[Any, ...]) -> None:
        """Take back what the compiled ``Inlet`` kept for this track (``Inlet.stats``)."""
        received, max_seq, cycles, jitter_q4, arrival, timestamp, lean, high, missing = stats
        s = self.stats
        s.packets_received, s.max_seq, s.cycles, s._jitter_q4 = received, max_seq, cycles, jitter_q4
        s._last_arrival, s._last_timestamp = arrival, timestamp
        self._lean_packets, self._high = lean, high
        self._missing = {seq: [0.0, 0, 0.0] for seq in missing}  # read back only: the Inlet keeps the timers

    def on_packet(self, packet: RtpPacket) -> None:
        """aiortc's path (it has counted the packet already): learn the SSRC, then hand the packet on."""
        if packet.ssrc != self.ssrc:
            self.owner.register(self, packet.ssrc)
        if packet.extensions.transport_sequence_number is not None and self.owner.tcc_id:
            self.owner.arrived(packet.extensions.transport_sequence_number)
        seq = packet.sequence_number
        if self.video:
            self._note(seq, packet.payload, packet.marker)
            if not self._nack(seq):
                return
        level = packet.extensions.audio_level
        self.consumer.on_rtp(packet.payload, seq, packet.timestamp, packet.marker, -1 if level is None else level[1])

    def on_srtp(self, plain: bytes) -> None:
        """The lean path: read the header, count the packet as ``StreamStatistics.add`` does, NACK, hand on."""
        self._lean_packets += 1
        try:
            first, second, seq, timestamp = _RTP_HEADER.unpack_from(plain)
            offset = 12 + 4 * (first & 0x0F)
            level = transport_seq = -1
            if first & 0x10:
                words = (plain[offset + 2] << 8) | plain[offset + 3]
                if plain[offset] == 0xBE and plain[offset + 1] == 0xDE:
                    start, stop = offset + 4, offset + 4 + 4 * words
                    if self.level_id:
                        at = _one_byte_element(plain, start, stop, self.level_id, 1)
                        if at >= 0:
                            level = plain[at + 1] & 0x7F
                    if self.owner.tcc_id:
                        at = _one_byte_element(plain, start, stop, self.owner.tcc_id, 2)
                        if at >= 0 and plain[at] & 0x0F == 1:
                            transport_seq = (plain[at + 1] << 8) | plain[at + 2]
                offset += 4 + 4 * words
            end = len(plain) - plain[-1] if first & 0x20 else len(plain)
        except (IndexError, struct.error):
            return  # authenticated but malformed: aiortc's parser would refuse it too
        if end < offset:
            return
        if transport_seq >= 0:
            self.owner.arrived(transport_seq)
        stats = self.stats
        stats.packets_received += 1
        delta = (seq - stats.max_seq) & 0xFFFF
        if 0 < delta < 0x8000:  # aiortc's uint16_gt(seq, max_seq): a packet in order
            arrival = int(time.time() * stats._clockrate)
            if seq < stats.max_seq:
                stats.cycles += 1 << 16
            stats.max_seq = seq
            if timestamp != stats._last_timestamp:
                diff = abs((arrival - stats._last_arrival) - (timestamp - stats._last_timestamp))
                stats._jitter_q4 += diff - ((stats._jitter_q4 + 8) >> 4)
            stats._last_arrival = arrival
            stats._last_timestamp = timestamp
        if self.video:
            self._note(seq, plain[offset:end], second >> 7)
            if delta == 1 and not self._missing:
                self._high = seq
            elif not self._nack(seq):
                return
        self.consumer.on_rtp(plain[offset:end], seq, timestamp, second >> 7, level)

    def _nack(self, seq: int) -> bool:
        """Gap bookkeeping for one video packet; False when it is not to be handed on.

        A newer packet opens gaps (a gap longer than ``MAX_REPAIR_GAP`` is beyond repair at once, and so
        is one it pushes out of the window still open, unless that was padding: ``only_padding``); an
        older one fills a gap, or is a duplicate or a packet already given up (after an outage the
        publisher may answer old NACKs with a burst of them: subscribers are past them). Then every
        open gap is checked for a NACK that is due (``_repair``).

        A packet not handed on, or one that fills a gap we NACKed (a retransmission: no RTX stream is
        negotiated, so it comes on the media SSRC), is taken back out of ``stats.packets_received``:
        our receiver reports then tell the publisher's browser what its uplink lost before repair, as
        a browser receiving with RTX would, and its loss-based estimate can see a saturated uplink.
        """
        if self._high < 0:
            self._high = seq
            return True
        delta = (seq - self._high) & 0xFFFF
        missing = self._missing
        if 0 < delta < 0x8000:
            now = self.owner.clock()
            self._high = seq
            if delta - 1 > MAX_REPAIR_GAP:
                missing.clear()
                self.owner.unrepairable(self, GAP_TOO_LONG)
                return True
            for k in range(1, delta):
                missing[(seq - k) & 0xFFFF] = [now, 0, now]
            fell = [m for m in missing if (seq - m) & 0xFFFF > NACK_WINDOW]
            if fell and not all(self.only_padding(m) for m in fell):
                missing.clear()  # fell out of the window still open
                self.owner.unrepairable(self, GAP_OUT_OF_WINDOW)
                return True
            for m in fell:
                del missing[m]  # padding: no picture lost a packet
        else:
            entry = missing.pop(seq, None) if delta else None
            if entry is None:
                self.stats.packets_received -= 1
                return False
            if entry[1]:
                self.stats.packets_received -= 1
            now = self.owner.clock()
            if entry[1] == 1:  # NACKed once: the publisher's answer took a round trip
                self.rtt = repair.smooth_rtt(self.rtt, now - entry[2])
                self.retry_interval = repair.retry_interval(self.rtt, NACK_RETRY_INTERVAL)
        if missing:
            self._repair(now)
        return True

    def _note(self, seq: int, payload: bytes, marker: int) -> None:
        """Keep what one video packet says of picture boundaries, for ``only_padding``: an empty
        payload is padding (a browser's probe of the link's capacity), else its PictureID, whether it
        starts a picture and whether it ends one (the RTP marker)."""
        if not payload:
            self._pictures[seq % PICTURE_RING] = (seq, PADDING, 0)
            return
        carried = read_indexes(payload)
        flags = (STARTS if vp8_starts_frame(payload) else 0) | (ENDS if marker else 0)
        self._pictures[seq % PICTURE_RING] = (seq, NO_PICTURE_ID if carried is None else carried[0], flags)

    def _nearest(self, seq: int, step: int, media: bool) -> tuple[int, int, int] | None:
        """The nearest packet received before (``step`` -1) or after (+1) ``seq`` within the ring of
        pictures (``PICTURE_RING``), what is missing passed over, and padding too when ``media``; None
        when there is none within ``NACK_WINDOW`` packets of ``seq``."""
        for k in range(1, NACK_WINDOW):
            at = (seq + step * k) & 0xFFFF
            behind = (self._high - at) & 0xFFFF
            if behind >= PICTURE_RING:
                return None  # past the newest, or out of the ring
            entry = self._pictures[at % PICTURE_RING]
            if entry is not None and entry[0] == at and not (media and entry[1] == PADDING) and at not in self._missing:
                return entry
        return None

    def only_padding(self, seq: int) -> bool:
        """Whether a packet still missing can only have been padding: the media packets nearest before
        and after it end one picture and start the next (PictureIDs one apart), so no picture lost a
        packet; or, with no picture within the window on a side (a layer whose encoder is off sends
        padding alone, for hundreds of packets), the packets nearest it on both sides are padding.
        A browser keeps no copy of its padding and never resends it: in the lab, at 2% and 10% loss,
        the server gave up on lost padding of every publisher's top layer every 1-3 s, each time a
        keyframe asked of the publisher for all who see it, and the pictures froze."""
        before, after = self._nearest(seq, -1, media=True), self._nearest(seq, 1, media=True)
        if before is not None and after is not None:
            if NO_PICTURE_ID in (before[1], after[1]):
                return False
            ends, starts = bool(before[2] & ENDS), bool(after[2] & STARTS)
            return ends and starts and after[1] == (before[1] + 1) & PICTURE_ID_MASK
        before, after = self._nearest(seq, -1, media=False), self._nearest(seq, 1, media=False)
        return before is not None and after is not None and before[1] == after[1] == PADDING

    def reorder_allowance(self) -> float:
        """Seconds a gap stays open before its first NACK: reordering is not loss."""
        stats = self.stats
        jitter = (stats._jitter_q4 >> 4) / stats._clockrate if stats is not None else 0.0
        return min(MAX_REORDER_DELAY, REORDER_DELAY + REORDER_JITTERS * jitter)

    def _repair(self, now: float) -> None:
        """NACK what is due (open past the allowance, or the backed-off retry interval after its last
        NACK: ``repair.backoff``); a gap NACKed ``MAX_NACKS`` times and still open a backed-off interval
        later is beyond repair: forget them all, ask for a keyframe, unless each was padding
        (``only_padding``): then only those are forgotten."""
        missing, interval, backoff = self._missing, self.retry_interval, repair.backoff
        spent = [
            seq
            for seq, (_since, tries, last) in missing.items()
            if tries >= MAX_NACKS and now - last >= backoff(interval, tries)
        ]
        if spent and not all(self.only_padding(seq) for seq in spent):
            missing.clear()
            self.owner.unrepairable(self, NACKS_SPENT)
            return
        for seq in spent:
            del missing[seq]  # padding: no picture lost a packet
        allowance = self.reorder_allowance()
        due = []
        for seq, entry in missing.items():
            since, tries, last = entry
            if (
                (now - since >= allowance)
                if tries == 0
                else (tries < MAX_NACKS and now - last >= backoff(interval, tries))
            ):
                entry[1] = tries + 1
                entry[2] = now
                due.append(seq)
        if due:
            self.owner.send_nack(self, sorted(due))

    def request(self, lost: list[int]) -> None:
        """A subscriber NACKed packets that never reached us: NACK those still open upstream now,
        unless they were NACKed within the (backed-off) retry interval, or every NACK is spent."""
        now = self.owner.clock()
        due = []
        for seq in lost:
            entry = self._missing.get(seq)
            if entry is None or entry[1] >= MAX_NACKS:
                continue
            if entry[1] == 0 or now - entry[2] >= repair.backoff(self.retry_interval, entry[1]):
                entry[1] += 1
                entry[2] = now
                due.append(seq)
        if due:
            self.owner.send_nack(self, sorted(due))


def _one_byte_element(data: bytes, start: int, end: int, wanted: int, size: int) -> int:
    """The offset of element ``wanted``'s header byte in an RFC 8285 one-byte extension block, or -1.

    IndexError if the block runs past the packet, or the element's ``size`` data bytes do."""
    while start < end:
        byte = data[start]
        if byte == 0:  # padding between elements
            start += 1
            continue
        ext_id = byte >> 4
        if ext_id == 15:
            break
        if ext_id == wanted:
            if start + size >= len(data):
                raise IndexError("an extension element past the packet")
            return start
        start += 2 + (byte & 0x0F)
    return -1
