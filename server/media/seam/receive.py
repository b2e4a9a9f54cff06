"""The receive side: a publisher connection's RTP, forwarded without aiortc's per-packet receive path.

``LeanReceiver`` wraps the connection's ICE socket callbacks and hands each SRTP packet of a known
SSRC, unprotected, to its ``InboundTrack`` synchronously (no queue, no coroutine, no ``RtpPacket``);
aiortc's own path still carries an SSRC's first packets (its router names the receiver) into a
``_Tap`` that replaces the jitter buffer. RR statistics are written into aiortc's ``StreamStatistics``
so the receiver reports read as aiortc's would; NACKs are sent here. ``decoder_worker`` is wrapped so
tapped receivers start no decoder thread while other receivers still decode.
"""

from __future__ import annotations

import functools
import struct
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

import aiortc.rtcrtpreceiver
import pylibsrtp
from aiortc import RTCRtpHeaderExtensionParameters, RTCRtpReceiver
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    pack_remb_fci,
)

from server.media.seam import compiled
from server.media.seam.guard import FIRST_DROP, REFUSED, RTP, Address, Drops, admit, validated_sources
from server.media.seam.transport import (
    Datagrams,
    SocketHooks,
    fast_srtp,
    nominated_route,
    parked_rtcp,
    send_rtcp,
)
from server.media.simulcast import RID_URI

NACK_WINDOW = 128  # aiortc's RTP_HISTORY_SIZE: a gap still open this far behind the newest is beyond repair
# Upstream repair (issue #16): a gap is NACKed once it has stayed open past the reorder allowance (a
# reordered packet is not lost), again every retry interval while it stays open, and given up after
# MAX_NACKS: a gap beyond repair becomes one keyframe request, not a burst of stale packets.
REORDER_DELAY = 0.02  # seconds a gap stays open before its first NACK ...
REORDER_JITTERS = 2  # ... plus this many times the measured interarrival jitter (RFC 3550) ...
MAX_REORDER_DELAY = 0.08  # ... at most this
NACK_RETRY_INTERVAL = 0.1  # seconds between NACKs of a packet still missing (about one round trip)
MAX_NACKS = 3  # NACKs per missing packet; still missing a retry interval after the last: beyond repair
MAX_REPAIR_GAP = 64  # packets lost in a row beyond which a keyframe is cheaper than repair
_RTP_HEADER = struct.Struct("!BBHI")  # first byte, marker + payload type, sequence number, timestamp

_original_decoder_worker = aiortc.rtcrtpreceiver.decoder_worker
_bypassed_queues: weakref.WeakSet[Any] = weakref.WeakSet()


def _decoder_worker(loop: Any, input_q: Any, output_q: Any, decode_error: Any) -> None:
    """Per-receiver choice: tapped receivers never decode; every other receiver decodes as usual."""
    if input_q in _bypassed_queues:
        return
    _original_decoder_worker(loop, input_q, output_q, decode_error)


def install_decoder_bypass() -> None:
    """Idempotent; the wrapper is process-wide but only affects receivers passed to ``LeanReceiver.tap``."""
    aiortc.rtcrtpreceiver.decoder_worker = _decoder_worker


class RtpConsumer(Protocol):
    """What a tapped receiver feeds: one call per RTP packet, header fields already read."""

    def on_rtp(self, payload: bytes, seq: int, timestamp: int, marker: int, level: int) -> None:
        """``level`` is an audio packet's RFC 6464 level (-dBov), or -1 when the packet carries none."""

    def on_ssrc(self, ssrc: int) -> None:
        """The publisher's SSRC for this track (again if it changes)."""

    def on_unrepairable(self) -> None:
        """A gap upstream is beyond repair (too long, or still open after every NACK): a keyframe is due."""


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
        seq = packet.sequence_number
        if self.video and not self._nack(seq):
            return
        level = packet.extensions.audio_level
        self.consumer.on_rtp(packet.payload, seq, packet.timestamp, packet.marker, -1 if level is None else level[1])

    def on_srtp(self, plain: bytes) -> None:
        """The lean path: read the header, count the packet as ``StreamStatistics.add`` does, NACK, hand on."""
        self._lean_packets += 1
        try:
            first, second, seq, timestamp = _RTP_HEADER.unpack_from(plain)
            offset = 12 + 4 * (first & 0x0F)
            level = -1
            if first & 0x10:
                words = (plain[offset + 2] << 8) | plain[offset + 3]
                if self.level_id and plain[offset] == 0xBE and plain[offset + 1] == 0xDE:
                    level = _one_byte_level(plain, offset + 4, offset + 4 + 4 * words, self.level_id)
                offset += 4 + 4 * words
            end = len(plain) - plain[-1] if first & 0x20 else len(plain)
        except (IndexError, struct.error):
            return  # authenticated but malformed: aiortc's parser would refuse it too
        if end < offset:
            return
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
            if delta == 1 and not self._missing:
                self._high = seq
            elif not self._nack(seq):
                return
        self.consumer.on_rtp(plain[offset:end], seq, timestamp, second >> 7, level)

    def _nack(self, seq: int) -> bool:
        """Gap bookkeeping for one video packet; False when it is not to be handed on.

        A newer packet opens gaps (a gap longer than ``MAX_REPAIR_GAP`` is beyond repair at once); an
        older one fills a gap, or is a duplicate or a packet already given up (after an outage the
        publisher may answer old NACKs with a burst of them: subscribers are past them). Then every
        open gap is checked for a NACK that is due (``_repair``).
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
                self.owner.unrepairable(self)
                return True
            for k in range(1, delta):
                missing[(seq - k) & 0xFFFF] = [now, 0, now]
            if any((seq - m) & 0xFFFF > NACK_WINDOW for m in missing):
                missing.clear()  # fell out of the window still open
                self.owner.unrepairable(self)
                return True
        elif delta == 0 or missing.pop(seq, None) is None:
            return False
        else:
            now = self.owner.clock()
        if missing:
            self._repair(now)
        return True

    def reorder_allowance(self) -> float:
        """Seconds a gap stays open before its first NACK: reordering is not loss."""
        stats = self.stats
        jitter = (stats._jitter_q4 >> 4) / stats._clockrate if stats is not None else 0.0
        return min(MAX_REORDER_DELAY, REORDER_DELAY + REORDER_JITTERS * jitter)

    def _repair(self, now: float) -> None:
        """NACK what is due (open past the allowance, or a retry interval after its last NACK); a gap
        NACKed ``MAX_NACKS`` times and still open is beyond repair: forget them all, ask for a keyframe."""
        missing = self._missing
        for _since, tries, last in missing.values():
            if tries >= MAX_NACKS and now - last >= NACK_RETRY_INTERVAL:
                missing.clear()
                self.owner.unrepairable(self)
                return
        allowance = self.reorder_allowance()
        due = []
        for seq, entry in missing.items():
            since, tries, last = entry
            if (now - since >= allowance) if tries == 0 else (tries < MAX_NACKS and now - last >= NACK_RETRY_INTERVAL):
                entry[1] = tries + 1
                entry[2] = now
                due.append(seq)
        if due:
            self.owner.send_nack(self, sorted(due))

    def request(self, lost: list[int]) -> None:
        """A subscriber NACKed packets that never reached us: NACK those still open upstream now,
        unless they were NACKed within the retry interval (or every NACK is spent)."""
        now = self.owner.clock()
        due = []
        for seq in lost:
            entry = self._missing.get(seq)
            if entry is not None and entry[1] < MAX_NACKS and (entry[1] == 0 or now - entry[2] >= NACK_RETRY_INTERVAL):
                entry[1] += 1
                entry[2] = now
                due.append(seq)
        if due:
            self.owner.send_nack(self, sorted(due))


class LeanReceiver:
    """One publisher connection's inbound RTP, handled inside the socket callback.

    aiortc's own path spends, on every packet: a STUN parse attempt, a queue hop, a coroutine
    wake-up, an ``RtpPacket``, statistics, depayloading and a jitter buffer. Here each ICE socket's
    ``datagram_received`` is wrapped: an SRTP packet of a known SSRC is unprotected and handed to its
    ``InboundTrack`` at once; everything else (STUN, DTLS, SRTCP, an SSRC not seen yet) goes the usual
    way, so consent checks, DTLS, RTCP handling and aiortc's RTP routing (which tells us the SSRC on a
    track's first packet) are untouched.
    """

    def __init__(
        self,
        compiled_path: bool | None = None,
        drops: Drops | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``compiled_path``: the ``Inlet`` (default: when built and not switched off) or the Python below.

        ``drops`` counts what the socket guard refuses (``guard.admit``); ``validated`` is set by
        ``install`` to the connection's proven remote addresses. ``clock`` (seconds, monotonic) times
        the repair of gaps; both paths read it (a test gives both the same one).
        """
        use_inlet = compiled.fastpath is not None if compiled_path is None else compiled_path
        self.drops = drops if drops is not None else Drops()
        self.validated: set[Address] = set()
        self.tracks: dict[RTCRtpReceiver, InboundTrack] = {}
        self.layers: dict[RTCRtpReceiver, dict[str, InboundTrack]] = {}  # simulcast: each layer's track by RID
        self._by_ssrc: dict[bytes, InboundTrack] = {}
        self._dtls: Any = None
        self._unprotect: Callable[[bytes], bytes] | None = None
        self._hooks = SocketHooks()
        self._inlet: Any = compiled.BUILT.Inlet() if use_inlet else None
        self.clock: Callable[[], float] = time.monotonic
        self.unrepairable_gaps = 0  # gaps given up for a keyframe (tests and diagnostics)
        if clock is not None:
            self.set_clock(clock)

    def tap(
        self,
        receiver: RTCRtpReceiver,
        consumer: RtpConsumer,
        estimate_bandwidth: bool = True,
        layers: dict[str, RtpConsumer] | None = None,
    ) -> None:
        """Take over one receiver; must run before ``receive()`` starts (after setRemoteDescription).

        ``estimate_bandwidth=False`` drops aiortc's REMB estimator (it runs on every video packet of
        aiortc's path); the SFU then announces a fixed cap through ``send_reports`` instead.
        ``layers``: a simulcast publisher's consumer for each RID. Each layer is its own SSRC, named
        by the RTP stream id header extension on its first packets (aiortc's path reads it: see
        ``accept_rid_extension``); from then on its packets take the lean path like any SSRC's.
        ``consumer`` is then the lowest layer's (the one ``repair`` and the first report go to).
        """
        install_decoder_bypass()
        raw: Any = receiver
        video = raw._RTCRtpReceiver__kind == "video"
        track = self.tracks[receiver] = InboundTrack(self, receiver, consumer, video)
        by_rid: dict[str, InboundTrack] = {}
        for rid, layer in (layers or {}).items():
            by_rid[rid] = track if layer is consumer else InboundTrack(self, receiver, layer, video, rid)
            by_rid[rid].rid = rid
        if by_rid:
            self.layers[receiver] = by_rid
        raw._RTCRtpReceiver__jitter_buffer = _Tap(track, by_rid)
        raw._RTCRtpReceiver__nack_generator = None  # InboundTrack NACKs, on both paths
        raw._run_rtcp = functools.partial(parked_rtcp, raw, "_RTCRtpReceiver")  # ``send_reports`` reports
        _bypassed_queues.add(raw._RTCRtpReceiver__decoder_queue)
        if not estimate_bandwidth:
            raw._RTCRtpReceiver__remote_bitrate_estimator = None
        self._dtls = receiver.transport

    def install(self, dtls: Any) -> None:
        """Guard and wrap the ICE sockets' callbacks of the connection ``dtls`` belongs to; call once
        candidates are gathered (after setLocalDescription), whether or not a track was tapped."""
        self._dtls = self._dtls or dtls
        self.validated = validated_sources(dtls)
        self._hooks.wrap(dtls, self._hook)

    def _hook(self, original: Datagrams) -> Datagrams:
        """The socket guard (``guard.admit``), then SRTP of a known SSRC here, the rest to ``original``."""
        validated, drops = self.validated, self.drops
        if self._inlet is not None:
            self._inlet.guard(validated, drops.add)
            hook: Datagrams = compiled.BUILT.hook(self._inlet, original)  # the closure below, in C
            return hook
        by_ssrc = self._by_ssrc

        def datagram_received(data: bytes, addr: Any) -> None:
            kind = admit(data, addr, validated)
            if kind >= FIRST_DROP:
                drops.add(kind)
                return
            if kind == RTP:
                track = by_ssrc.get(data[8:12])
                if track is not None:
                    try:
                        plain = self._unprotect(data)  # type: ignore[misc]  # set before any SSRC is known
                    except pylibsrtp.Error:
                        return  # a replay or a forgery: aiortc drops it too
                    track.on_srtp(plain)
                    return
            try:
                original(data, addr)
            except Exception:  # aioice's STUN parser raises struct.error on a short attribute
                drops.add(REFUSED)

        return datagram_received

    def inbound_tracks(self) -> list[InboundTrack]:
        """Every tapped stream: a receiver's one track, or each of its simulcast layers."""
        found: list[InboundTrack] = []
        for receiver, track in self.tracks.items():
            layers = self.layers.get(receiver)
            found.extend(layers.values() if layers else [track])
        return found

    def register(self, track: InboundTrack, ssrc: int) -> None:
        """An SSRC's first packet came through aiortc: from now on its packets take the lean path."""
        raw: Any = track.receiver
        dtls = raw.transport
        if track.ssrc >= 0:
            self.sync(track)
            self._by_ssrc.pop(track.ssrc.to_bytes(4, "big"), None)
            if self._inlet is not None:
                self._inlet.remove(track.ssrc)
        track.ssrc = ssrc
        track.consumer.on_ssrc(ssrc)
        track.stats = raw._RTCRtpReceiver__remote_streams.get(ssrc)
        track.level_id = dtls._rtp_header_extensions_map._HeaderExtensionsMap__ids.audio_level or 0
        if track.stats is None or track.stats.max_seq is None or dtls._rx_srtp is None:
            return  # aiortc has not counted this SSRC: leave it on aiortc's path
        if self._unprotect is None:
            self._unprotect = fast_srtp(dtls._rx_srtp, unprotect=True)
            if self._inlet is not None:
                self._inlet.set_session(dtls._rx_srtp, compiled.context_capsule(dtls._rx_srtp))
        self._by_ssrc[ssrc.to_bytes(4, "big")] = track
        if self._inlet is not None:
            s = track.stats
            self._inlet.add(
                ssrc,
                track.consumer.on_rtp,
                functools.partial(self.send_nack, track),
                functools.partial(self.unrepairable, track),
                track.video,
                track.level_id,
                float(s._clockrate),
                s.packets_received,
                s.max_seq,
                s.cycles,
                s._jitter_q4,
                s._last_arrival or 0,
                s._last_timestamp or 0,
                track._high,
                list(track._missing),
            )

    def sync(self, track: InboundTrack) -> None:
        """Bring a track's statistics and gaps back from the compiled ``Inlet`` (no-op on the Python path)."""
        if self._inlet is not None and track.ssrc >= 0 and track.stats is not None:
            stats = self._inlet.stats(track.ssrc)
            if stats is not None:
                track.restore(stats)

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Time the repair of gaps by ``clock`` on both paths (tests hold it to decide what is due)."""
        self.clock = clock
        if self._inlet is not None:
            self._inlet.set_clock(clock)

    def unrepairable(self, track: InboundTrack) -> None:
        """A gap of ``track`` is beyond repair: its consumer asks the publisher for a keyframe."""
        self.unrepairable_gaps += 1
        track.consumer.on_unrepairable()

    def repair(self, receiver: RTCRtpReceiver, lost: list[int]) -> None:
        """A subscriber NACKed these packets (the publisher's numbers) and we never had them."""
        track = self.tracks.get(receiver)
        if track is not None:
            self.repair_track(track, lost)

    def repair_layer(self, receiver: RTCRtpReceiver, rid: str, lost: list[int]) -> None:
        """``repair`` for one simulcast layer of ``receiver``."""
        track = self.layers.get(receiver, {}).get(rid)
        if track is not None:
            self.repair_track(track, lost)

    def repair_track(self, track: InboundTrack, lost: list[int]) -> None:
        if track.ssrc < 0:
            return
        if self._inlet is not None and self._inlet.stats(track.ssrc) is not None:
            self._inlet.request(track.ssrc, lost)
        else:
            track.request(lost)

    def send_nack(self, track: InboundTrack, lost: list[int]) -> None:
        """Generic NACK (RFC 4585) upstream from the receiver's RTCP SSRC, sent at once."""
        raw: Any = track.receiver
        rtcp_ssrc = raw._RTCRtpReceiver__rtcp_ssrc
        dtls = raw.transport
        route = nominated_route(dtls)
        if rtcp_ssrc is None or route is None:
            return
        packet = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=rtcp_ssrc, media_ssrc=track.ssrc)
        packet.lost = lost
        send_rtcp(dtls, route, bytes(packet))

    def send_reports(self, bitrate: int) -> bool:
        """One compound packet: aiortc's receiver report for each track, then REMB capping the video.

        Called once a second by the room loop, in place of each receiver's own RTCP task (on this kind
        of machine a timer wake-up costs more than the report). Same fields as aiortc's RR.
        """
        route = nominated_route(self._dtls) if self._dtls is not None else None
        if route is None:
            return False
        parts: list[bytes] = []
        remb_ssrc: int | None = None
        video_ssrcs: list[int] = []
        for track in self.inbound_tracks():
            self.sync(track)
            raw: Any = track.receiver
            stats, rtcp_ssrc = track.stats, raw._RTCRtpReceiver__rtcp_ssrc
            if stats is None or rtcp_ssrc is None:
                continue
            lsr, dlsr = raw._RTCRtpReceiver__lsr.get(track.ssrc, 0), 0
            if lsr:
                delay = time.time() - raw._RTCRtpReceiver__lsr_time[track.ssrc]
                dlsr = int(delay * 65536) if 0 < delay < 65536 else 0
            block = RtcpReceiverInfo(
                ssrc=track.ssrc,
                fraction_lost=stats.fraction_lost,
                packets_lost=stats.packets_lost,
                highest_sequence=stats.max_seq,
                jitter=stats.jitter,
                lsr=lsr,
                dlsr=dlsr,
            )
            parts.append(bytes(RtcpRrPacket(ssrc=rtcp_ssrc, reports=[block])))
            if track.video:
                remb_ssrc = rtcp_ssrc
                video_ssrcs.append(track.ssrc)
        if bitrate and remb_ssrc is not None:
            # One REMB naming every video SSRC: a simulcast publisher spreads it over its layers.
            fci = pack_remb_fci(bitrate, video_ssrcs)
            parts.append(bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=remb_ssrc, media_ssrc=0, fci=fci)))
        if not parts:
            return False
        send_rtcp(self._dtls, route, b"".join(parts))
        return True

    def close(self) -> None:
        """Unwrap the sockets and forget the tracks, so no packet reaches a closed source."""
        self._hooks.unwrap()
        self._by_ssrc.clear()
        self.tracks.clear()
        self.layers.clear()
        if self._inlet is not None:
            self._inlet.clear()


class _Tap:
    """Stands in for ``JitterBuffer``: hands each packet on at once and never yields a frame to decode."""

    capacity = 512

    def __init__(self, track: InboundTrack, layers: dict[str, InboundTrack] | None = None) -> None:
        self.track = track
        self.layers = layers or {}
        self._by_ssrc: dict[int, InboundTrack] = {}

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        if not self.layers:
            self.track.on_packet(packet)
            return False, None
        # Simulcast: the layer is named by the RTP stream id its first packets carry; a packet of an
        # SSRC not named yet (its RID extension lost) waits for one that is.
        track = self._by_ssrc.get(packet.ssrc)
        if track is None:
            rid = packet.extensions.rtp_stream_id
            track = self.layers.get(rid) if rid is not None else None
            if track is None:
                return False, None
            self._by_ssrc[packet.ssrc] = track
        track.on_packet(packet)
        return False, None


def _one_byte_level(data: bytes, start: int, end: int, wanted: int) -> int:
    """The 7-bit level of element ``wanted`` in an RFC 8285 one-byte extension block, or -1."""
    while start < end:
        byte = data[start]
        if byte == 0:  # padding between elements
            start += 1
            continue
        ext_id = byte >> 4
        if ext_id == 15:
            break
        if ext_id == wanted:
            return data[start + 1] & 0x7F
        start += 2 + (byte & 0x0F)
    return -1


def accept_rid_extension(transceiver: Any, extension_id: int) -> None:
    """Negotiate the RTP stream id header extension (``simulcast.RID_URI``) a simulcast offer gave
    ``extension_id``. aiortc does not support it, so it would leave it out of the answer, the browser
    would not send it, and no layer's SSRC could be named. Appended to the transceiver's negotiated
    extensions (seam: ``RTCRtpTransceiver._headerExtensions``, after setRemoteDescription) it goes into
    the answer and into the receive parameters that configure the DTLS transport's parser, which then
    fills ``RtpPacket.extensions.rtp_stream_id`` on aiortc's path."""
    kept: list[RTCRtpHeaderExtensionParameters] = transceiver._headerExtensions
    if not any(ext.uri == RID_URI for ext in kept):
        kept.append(RTCRtpHeaderExtensionParameters(id=extension_id, uri=RID_URI))


async def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send a PLI upstream through the receiver's own RTCP path (it knows its RTCP SSRC)."""
    await receiver._send_rtcp_pli(media_ssrc)
