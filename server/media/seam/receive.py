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
import time
import weakref
from collections.abc import Callable
from typing import Any

import aiortc.rtcrtpreceiver
import pylibsrtp
from aiortc import RTCRtpReceiver
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

from server.media import transport_cc
from server.media.seam import compiled
from server.media.seam.guard import FIRST_DROP, REFUSED, RTP, Address, Drops, admit, validated_sources
from server.media.seam.inbound import InboundTrack, RtpConsumer
from server.media.seam.transport import (
    Datagrams,
    SocketHooks,
    fast_srtp,
    nominated_route,
    parked_rtcp,
    send_rtcp,
)

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
        # Transport-wide congestion control (``transport_cc``): the extension's id once negotiated (0:
        # not), the arrivals not yet reported, and when the next feedback is due.
        self.tcc_id = 0
        self.arrivals = transport_cc.ArrivalLog()
        self._feedback_due = 0.0
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
        ids = dtls._rtp_header_extensions_map._HeaderExtensionsMap__ids
        track.level_id = ids.audio_level or 0
        if (ids.transport_sequence_number or 0) != self.tcc_id:
            self.set_transport_cc(ids.transport_sequence_number or 0)
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

    def set_transport_cc(self, ext_id: int) -> None:
        """Note the transport-wide sequence number carried in extension ``ext_id`` (0: stop), both paths."""
        self.tcc_id = ext_id
        if self._inlet is not None:
            self._inlet.set_transport_cc(ext_id, transport_cc.FEEDBACK_INTERVAL, self.send_feedback)

    def arrived(self, transport_seq: int) -> None:
        """A packet numbered ``transport_seq`` arrived now; feedback goes out when due (the compiled
        path's ``Inlet`` notes its arrivals itself and calls ``send_feedback`` by this same rule)."""
        now = self.clock()
        self.arrivals.add(transport_seq, now)
        inlet = self._inlet
        due = inlet.feedback_due if inlet is not None else self._feedback_due
        if now >= due:
            # One due time for both paths: an SSRC's first packets come through here, the rest through
            # the ``Inlet``, and two clocks of their own sent two feedbacks within an interval at a start.
            due = now + transport_cc.FEEDBACK_INTERVAL
            if inlet is not None:
                inlet.feedback_due = due
            else:
                self._feedback_due = due
            self.send_feedback()

    def feedback(self) -> bytes | None:
        """The transport-cc packet for what arrived since the last (the ``Inlet``'s arrivals included)."""
        if self._inlet is not None:
            for seq, at in self._inlet.arrivals():
                self.arrivals.add(seq, at)
        tracks = self.inbound_tracks()
        senders = [getattr(track.receiver, "_RTCRtpReceiver__rtcp_ssrc", None) for track in tracks]
        sender = next((ssrc for ssrc in senders if ssrc is not None), 0)
        media = next((track.ssrc for track in tracks if track.ssrc >= 0), 0)
        return self.arrivals.feedback(sender, media)

    def send_feedback(self) -> None:
        """Send the publisher ``feedback()`` now, from the packet path (no timer: no packets, no feedback)."""
        packet = self.feedback()
        route = nominated_route(self._dtls) if self._dtls is not None else None
        if packet is not None and route is not None:
            send_rtcp(self._dtls, route, packet)

    def unrepairable(self, track: InboundTrack, why: str) -> None:
        """A gap of ``track`` is beyond repair (``why``): its consumer asks the publisher for a keyframe."""
        self.unrepairable_gaps += 1
        track.consumer.on_unrepairable(why)

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
        of machine a timer wake-up costs more than the report). Same fields as aiortc's RR, but an
        audio track's fraction lost is the worst of its uplink's and its subscribers' downlinks'
        (``RtpConsumer.downstream_loss``): the cumulative count stays the uplink's own, which is what a
        browser's bandwidth estimate reads, while its Opus encoder tunes FEC to the fraction.
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
            lost = stats.fraction_lost  # since the last report: reading it starts the next interval
            if track.video:
                track.consumer.on_upstream_loss(lost / 256.0)
            else:
                lost = max(lost, track.consumer.downstream_loss(self.clock()))
            block = RtcpReceiverInfo(
                ssrc=track.ssrc,
                fraction_lost=lost,
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


async def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send a PLI upstream through the receiver's own RTCP path (it knows its RTCP SSRC)."""
    await receiver._send_rtcp_pli(media_ssrc)
