"""Every touch of aiortc/aioice internals lives here, and ``tests/media/test_seam.py`` pins each one.

aiortc has no public API for forwarding encoded media (issues #449, #544, #1155), and its per-packet
paths cost more than the forwarding itself, so the SFU needs internal hooks. Keeping them in one
module means an aiortc upgrade that moves a seam breaks one file and one test module, by name,
instead of silently degrading forwarding:

- receive side: ``LeanReceiver`` wraps a publisher connection's ICE socket callbacks and hands each
  SRTP packet of a known SSRC, unprotected, to its ``InboundTrack`` synchronously (no queue, no
  coroutine, no ``RtpPacket``); aiortc's own path still carries an SSRC's first packets (its router
  names the receiver) into a ``_Tap`` that replaces the jitter buffer. RR statistics are written into
  aiortc's ``StreamStatistics`` so its RTCP loop keeps reporting; NACKs are sent here. ``decoder_worker``
  is wrapped so tapped receivers start no decoder thread while other receivers still decode;
- send side: ``LeanSender`` writes RTP header + SRTP protect + ``sendto`` itself (aiortc's
  ``_run_rtp`` costs 120-200 us per packet) and answers NACKs from its own history;
  ``SubscriberRtcp`` sends one compound SR+SDES per subscriber connection instead of one RTCP task
  per sender, and reads that connection's SRTCP (NACK, PLI, FIR) in its socket callbacks;
- ICE: aioice skips 127.0.0.1; tests and single-machine demos may add it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import struct
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

import aioice.ice
import aiortc.rtcrtpreceiver
import pylibsrtp
import pylibsrtp._binding as _srtp  # type: ignore[import-not-found]
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    pack_remb_fci,
)

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
HISTORY_SIZE = 512  # power of two: a NACK for older packets is answered with silence
HISTORY_MASK = HISTORY_SIZE - 1
MAX_BUFFERED = 256 * 1024  # bytes a buffering transport (uvloop) may hold before the subscriber lags
NTP_EPOCH_OFFSET = 2208988800

NACK_WINDOW = 128  # aiortc's RTP_HISTORY_SIZE: gaps older than this are no longer NACKed
SRTP_TRAILER = 16 + 128  # pylibsrtp's SRTP_MAX_TRAILER_LEN headroom, kept as in Session.protect
_RTP_HEADER = struct.Struct("!BBHI")  # first byte, marker + payload type, sequence number, timestamp
_RTP_OUT = struct.Struct("!BBHII")
_srtp_protect = _srtp.lib.srtp_protect
_RTCP_HEADER = struct.Struct("!BBH")  # version and count/format, packet type, length in words - 1
_NACK_FCI = struct.Struct("!HH")  # packet id, bitmask of the following lost packets
_SENDER_REPORT = struct.Struct("!BBHIQIII")

# --- receive side ---------------------------------------------------------------------------------

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


class InboundTrack:
    """One tapped receiver's per-packet work, done here instead of in ``RTCRtpReceiver``.

    Packets reach ``on_srtp`` from the lean path (unprotected inside the socket callback) or
    ``on_packet`` from aiortc's own path (an SSRC's first packets, before the lean path knows it).
    Receiver-report statistics go into aiortc's own ``StreamStatistics`` for the SSRC, which
    ``LeanReceiver.send_reports`` reads as aiortc's RTCP loop would (with LSR/DLSR from the SRs aiortc
    still handles); gaps are NACKed here, as aiortc's ``NackGenerator`` would (it is off for tapped
    receivers).
    """

    def __init__(self, owner: LeanReceiver, receiver: RTCRtpReceiver, consumer: RtpConsumer, video: bool) -> None:
        self.owner = owner
        self.receiver = receiver
        self.consumer = consumer
        self.video = video
        self.ssrc = -1
        self.stats: Any = None
        self.level_id = 0
        self.lean_packets = 0  # packets that took the lean path (tests and diagnostics)
        self._high = -1
        self._missing: set[int] = set()

    def on_packet(self, packet: RtpPacket) -> None:
        """aiortc's path (it has counted the packet already): learn the SSRC, then hand the packet on."""
        if packet.ssrc != self.ssrc:
            self.owner.register(self, packet.ssrc)
        seq = packet.sequence_number
        if self.video:
            self._nack(seq)
        level = packet.extensions.audio_level
        self.consumer.on_rtp(packet.payload, seq, packet.timestamp, packet.marker, -1 if level is None else level[1])

    def on_srtp(self, plain: bytes) -> None:
        """The lean path: read the header, count the packet as ``StreamStatistics.add`` does, NACK, hand on."""
        self.lean_packets += 1
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
            else:
                self._nack(seq)
        self.consumer.on_rtp(plain[offset:end], seq, timestamp, second >> 7, level)

    def _nack(self, seq: int) -> None:
        """As ``NackGenerator``: remember gaps; when a new one opens, NACK every packet still missing."""
        if self._high < 0:
            self._high = seq
            return
        delta = (seq - self._high) & 0xFFFF
        missing = self._missing
        if 0 < delta < 0x8000:
            missing.update((seq - k) & 0xFFFF for k in range(1, min(delta, NACK_WINDOW)))
            self._high = seq
            for old in [m for m in missing if (seq - m) & 0xFFFF > NACK_WINDOW]:
                missing.discard(old)
            if delta > 1 and missing:
                self.owner.send_nack(self, sorted(missing))
        else:
            missing.discard(seq)


Datagrams = Callable[[bytes, Any], None]


class SocketHooks:
    """The ICE sockets of one connection whose ``datagram_received`` is wrapped: each once, all undone on close.

    Seam: aioice's ``Connection._protocols`` and the per-instance ``datagram_received`` override
    (pinned by ``tests/media/test_seam.py``).
    """

    def __init__(self) -> None:
        self.wrapped: list[Any] = []

    def wrap(self, dtls: Any, hook: Callable[[Datagrams], Datagrams]) -> None:
        for protocol in dtls.transport._connection._protocols:
            if protocol not in self.wrapped:
                self.wrapped.append(protocol)
                protocol.datagram_received = hook(protocol.datagram_received)

    def unwrap(self) -> None:
        for protocol in self.wrapped:
            with contextlib.suppress(AttributeError):
                del protocol.datagram_received
        self.wrapped.clear()


class LeanReceiver:
    """One publisher connection's inbound RTP, handled inside the socket callback.

    aiortc's own path spends, on every packet: a STUN parse attempt, a queue hop, a coroutine
    wake-up, an ``RtpPacket``, statistics, depayloading and a jitter buffer. Here each ICE socket's
    ``datagram_received`` is wrapped: an SRTP packet of a known SSRC is unprotected and handed to its
    ``InboundTrack`` at once; everything else (STUN, DTLS, SRTCP, an SSRC not seen yet) goes the usual
    way, so consent checks, DTLS, RTCP handling and aiortc's RTP routing (which tells us the SSRC on a
    track's first packet) are untouched.
    """

    def __init__(self) -> None:
        self.tracks: dict[RTCRtpReceiver, InboundTrack] = {}
        self._by_ssrc: dict[bytes, InboundTrack] = {}
        self._dtls: Any = None
        self._unprotect: Callable[[bytes], bytes] | None = None
        self._hooks = SocketHooks()

    def tap(self, receiver: RTCRtpReceiver, consumer: RtpConsumer, estimate_bandwidth: bool = True) -> None:
        """Take over one receiver; must run before ``receive()`` starts (after setRemoteDescription).

        ``estimate_bandwidth=False`` drops aiortc's REMB estimator (it runs on every video packet of
        aiortc's path); the SFU then announces a fixed cap through ``send_reports`` instead.
        """
        install_decoder_bypass()
        raw: Any = receiver
        video = raw._RTCRtpReceiver__kind == "video"
        track = self.tracks[receiver] = InboundTrack(self, receiver, consumer, video)
        raw._RTCRtpReceiver__jitter_buffer = _Tap(track)
        raw._RTCRtpReceiver__nack_generator = None  # InboundTrack NACKs, on both paths
        raw._run_rtcp = functools.partial(_parked_rtcp, raw, "_RTCRtpReceiver")  # ``send_reports`` reports
        _bypassed_queues.add(raw._RTCRtpReceiver__decoder_queue)
        if not estimate_bandwidth:
            raw._RTCRtpReceiver__remote_bitrate_estimator = None
        self._dtls = receiver.transport

    def install(self) -> None:
        """Wrap the ICE sockets' callbacks; call once candidates are gathered (after setLocalDescription)."""
        if self._dtls is not None:
            self._hooks.wrap(self._dtls, self._hook)

    def _hook(self, original: Datagrams) -> Datagrams:
        by_ssrc = self._by_ssrc

        def datagram_received(data: bytes, addr: Any) -> None:
            if 127 < data[0] < 192 and not 191 < data[1] < 224:  # RTP, not RTCP (RFC 5761)
                track = by_ssrc.get(data[8:12])
                if track is not None:
                    try:
                        plain = self._unprotect(data)  # type: ignore[misc]  # set before any SSRC is known
                    except pylibsrtp.Error:
                        return  # a replay or a forgery: aiortc drops it too
                    track.on_srtp(plain)
                    return
            original(data, addr)

        return datagram_received

    def register(self, track: InboundTrack, ssrc: int) -> None:
        """An SSRC's first packet came through aiortc: from now on its packets take the lean path."""
        raw: Any = track.receiver
        dtls = raw.transport
        if track.ssrc >= 0:
            self._by_ssrc.pop(track.ssrc.to_bytes(4, "big"), None)
        track.ssrc = ssrc
        track.consumer.on_ssrc(ssrc)
        track.stats = raw._RTCRtpReceiver__remote_streams.get(ssrc)
        track.level_id = dtls._rtp_header_extensions_map._HeaderExtensionsMap__ids.audio_level or 0
        if track.stats is None or track.stats.max_seq is None or dtls._rx_srtp is None:
            return  # aiortc has not counted this SSRC: leave it on aiortc's path
        if self._unprotect is None:
            self._unprotect = fast_srtp(dtls._rx_srtp, unprotect=True)
        self._by_ssrc[ssrc.to_bytes(4, "big")] = track

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
        with contextlib.suppress(OSError):
            route[0].sendto(dtls._tx_srtp.protect_rtcp(bytes(packet)), route[1])

    def send_reports(self, bitrate: int) -> bool:
        """One compound packet: aiortc's receiver report for each track, then REMB capping the video.

        Called once a second by the room loop, in place of each receiver's own RTCP task (on this kind
        of machine a timer wake-up costs more than the report). Same fields as aiortc's RR.
        """
        route = nominated_route(self._dtls) if self._dtls is not None else None
        if route is None:
            return False
        parts: list[bytes] = []
        for track in self.tracks.values():
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
            if track.video and bitrate:
                fci = pack_remb_fci(bitrate, [track.ssrc])
                parts.append(bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=fci)))
        if not parts:
            return False
        with contextlib.suppress(OSError, pylibsrtp.Error):
            route[0].sendto(self._dtls._tx_srtp.protect_rtcp(b"".join(parts)), route[1])
        return True

    def close(self) -> None:
        """Unwrap the sockets and forget the tracks, so no packet reaches a closed source."""
        self._hooks.unwrap()
        self._by_ssrc.clear()
        self.tracks.clear()


class _Tap:
    """Stands in for ``JitterBuffer``: hands each packet on at once and never yields a frame to decode."""

    capacity = 512

    def __init__(self, track: InboundTrack) -> None:
        self.track = track

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        self.track.on_packet(packet)
        return False, None


async def _parked_rtcp(owner: Any, prefix: str) -> None:
    """Stands in for an aiortc sender's or receiver's ``_run_rtcp``: reports are sent by this module.

    Signals the events ``stop()`` waits for, and parks until ``stop()`` cancels it (no timer).
    """
    getattr(owner, f"{prefix}__rtcp_started").set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.get_running_loop().create_future()
    getattr(owner, f"{prefix}__rtcp_exited").set()


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


async def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send a PLI upstream through the receiver's own RTCP path (it knows its RTCP SSRC)."""
    await receiver._send_rtcp_pli(media_ssrc)


# --- send side ------------------------------------------------------------------------------------


class IdleTrack(MediaStreamTrack):
    """Parks ``RTCRtpSender._run_rtp`` on a future that never resolves: the lean sender does the work.

    With no track at all, ``_run_rtp`` would poll every 20 ms per sender.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    async def recv(self) -> Any:
        await asyncio.get_running_loop().create_future()


def set_msid(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """aiortc writes ``a=msid:<_stream_id> <_track_id>`` in offers; there is no public setter."""
    sender._stream_id = stream_id
    sender._track_id = track_id


def _one_byte_extensions(elements: list[tuple[int, bytes]]) -> bytes:
    """RFC 8285 one-byte header extension block, padded to 32 bits."""
    body = b"".join(bytes([(ext_id << 4) | (len(value) - 1)]) + value for ext_id, value in elements)
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("!HH", 0xBEDE, len(body) // 4) + body


class LeanSender:
    """Sends already-packetized RTP payloads on one aiortc sender's transport with minimal work per packet.

    The caller chooses sequence numbers (the forwarder keeps upstream gaps so NACKs can repair them);
    the SSRC is the aiortc sender's, as signalled in SDP. A NACK history keeps protected packets:
    re-protecting an old SRTP index can be refused by libsrtp, so the ciphertext is what is kept.
    The bounded queue of a subscriber is its socket's kernel send buffer: when it is full, ``send``
    reports it and the forwarder treats the subscriber as lagging.
    """

    def __init__(self, sender: RTCRtpSender, on_keyframe_request: Callable[[], None], rtcp: SubscriberRtcp) -> None:
        self.sender = sender
        self.rtcp = rtcp
        self.ssrc: int = sender._ssrc
        self.octets = 0
        self._sr_rtp = 0  # an (RTP timestamp, NTP time) pair of a sent packet, for sender reports
        self._sr_ntp = 0
        self._cname = ""
        self._raw: Any = sender  # private fields are written through this untyped alias
        self.on_keyframe_request = on_keyframe_request
        self.ready = False
        self.retired = False
        self.packets_sent = 0
        self.sock: Any = None  # the nominated pair's UDP socket, once DTLS is up
        self._addr: Any = None
        self._buffered: Any = None
        self._protect: Callable[[bytes], bytes] | None = None
        self._srtp: Any = None  # pylibsrtp's context, buffer and length cell for the inlined protect
        self._cdata: Any = None
        self._buffer: Any = None
        self._length: Any = _srtp.ffi.new("int *")
        self._limit = 0
        self._payload_at = 12
        self._first = 0x80
        self._pt = 0
        self._ext = b""
        self._history: list[bytes | None] = [None] * HISTORY_SIZE
        self._dtls: Any = None
        self._original_send = sender.send
        setattr(sender, "_handle_rtcp_packet", self._handle_rtcp_packet)  # noqa: B010 (instance override)
        setattr(sender, "send", self._send_parameters)  # noqa: B010
        setattr(sender, "_run_rtcp", self._run_rtcp)  # noqa: B010  (reports come from ``rtcp``)
        rtcp.add(self)

    async def _send_parameters(self, parameters: RTCRtpSendParameters) -> None:
        """Learn the negotiated payload type and mid extension when aiortc starts the sender."""
        if self.retired:
            return  # the track was withdrawn while its offer was out: never start its RTP/RTCP tasks
        self._pt = int(parameters.codecs[0].payloadType or 0)
        ext = [(e.id, parameters.muxId.encode()) for e in parameters.headerExtensions if e.uri == MID_URI]
        self._ext = _one_byte_extensions(ext) if ext and parameters.muxId else b""
        self._first = 0x90 if self._ext else 0x80
        self._dtls = self.sender.transport
        await self._original_send(parameters)
        self.rtcp.attach(self._dtls, parameters.rtcp.cname or "")
        self.ready = True

    async def _run_rtcp(self) -> None:
        """Stands in for ``RTCRtpSender._run_rtcp``: parked until ``stop()``, then BYE as aiortc does."""
        await _parked_rtcp(self._raw, "_RTCRtpSender")
        await self._raw._send_rtcp([RtcpByePacket(sources=[self.ssrc])])

    def link(self) -> bool:
        """Resolve the socket, address and SRTP session once DTLS is up; False until then."""
        dtls = self._dtls
        if self.retired or not self.ready or dtls is None:
            self.sock = None
            return False
        route = nominated_route(dtls)
        if route is None:
            self.sock = None
            return False
        transport, self._addr = route
        # asyncio's datagram transport exposes its socket (a direct sendto skips a Python layer);
        # uvloop's does not, and its transport's own sendto is C and takes the same arguments.
        self.sock = getattr(transport, "_sock", None) or transport
        # A transport buffers instead of raising BlockingIOError: bound it by its buffer size instead.
        self._buffered = transport if self.sock is transport else None
        session = dtls._tx_srtp
        self._protect = session.protect
        try:
            self._srtp, self._cdata, self._buffer = session._srtp[0], session._cdata, session._buffer
        except AttributeError:  # not where pylibsrtp 1.0 keeps them: the public method it is
            self._srtp = None
        else:
            self._limit = len(self._cdata) - SRTP_TRAILER
        self._payload_at = 12 + len(self._ext)
        return True

    def unlink(self) -> None:
        self.sock = None
        self.retired = True
        self.rtcp.remove(self)

    def send(self, payload: bytes, marker: int, timestamp: int, seq: int) -> bool:
        """RTP header + mid extension + SRTP + one ``sendto``; False when the socket buffer is full.

        The header and payload are written straight into pylibsrtp's buffer and protected there
        (``fast_srtp`` inlined: this runs once per packet per subscriber).
        """
        srtp = self._srtp
        if srtp is None:
            header = _RTP_OUT.pack(self._first, (marker << 7) | self._pt, seq, timestamp, self.ssrc)
            protected = self._protect(header + self._ext + payload)  # type: ignore[misc]  # set by link()
        else:
            buffer, start = self._buffer, self._payload_at
            size = start + len(payload)
            if size > self._limit:
                return True  # cannot be protected: drop it as if lost, the subscriber NACKs in vain
            _RTP_OUT.pack_into(buffer, 0, self._first, (marker << 7) | self._pt, seq, timestamp, self.ssrc)
            buffer[12:start] = self._ext
            buffer[start:size] = payload
            length = self._length
            length[0] = size
            if _srtp_protect(srtp, self._cdata, length):
                return True  # libsrtp refused (it does not for a new index): as if lost
            protected = buffer[0 : length[0]]
        self._history[seq & HISTORY_MASK] = protected
        buffered = self._buffered
        if buffered is not None:
            if buffered.is_closing():  # uvloop closes it on a send error (the subscriber went away)
                self.sock = None
                return False
            if buffered.get_write_buffer_size() > MAX_BUFFERED:
                return False
        try:
            self.sock.sendto(protected, self._addr)
        except BlockingIOError:
            return False
        except (OSError, AttributeError):
            self.sock = None  # closed underneath us; ``link`` decides whether it comes back
            return False
        self.packets_sent += 1
        self.octets += len(payload)
        if self.packets_sent & 31 == 1:  # reports go out about once a second
            self._sr_rtp = timestamp
            self._sr_ntp = int((time.time() + NTP_EPOCH_OFFSET) * 4294967296.0)
        return True

    def sender_report(self) -> bytes:
        """An RTCP SR (RFC 3550 6.4.1) without report blocks: this sender receives nothing."""
        return _SENDER_REPORT.pack(
            0x80,
            200,
            6,
            self.ssrc,
            self._sr_ntp,
            self._sr_rtp,
            self.packets_sent & 0xFFFFFFFF,
            self.octets & 0xFFFFFFFF,
        )

    def retransmit(self, lost: list[int]) -> None:
        """Answer a NACK from the history of protected packets; older ones are gone."""
        for seq in lost:
            data = self._history[seq & HISTORY_MASK]
            if data is not None and self.sock is not None and int.from_bytes(data[2:4], "big") == seq:
                with contextlib.suppress(OSError):
                    self.sock.sendto(data, self._addr)

    async def _handle_rtcp_packet(self, packet: Any) -> None:
        """Feedback that came through aiortc's path (before ``rtcp`` hooked the socket): same handling."""
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            self.retransmit(packet.lost)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            self.on_keyframe_request()


class SubscriberRtcp:
    """A subscriber connection's RTCP, both ways, instead of aiortc's per-sender work.

    aiortc runs one RTCP task per sender (a timer wake-up, an SR, an SDES and a ``sendto`` every
    0.5-1.5 s) and takes every incoming report through its queue, a coroutine and its RTCP parser:
    with 7 publishers of 2 tracks that is 14 of each per second per subscriber. Here the engine's
    room loop calls ``send_reports`` once a second (no timer of its own: on this kind of machine a
    wake-up costs more than the report) for one compound packet (an SR per sending track, then one
    SDES), and incoming SRTCP is read inside the socket callback: NACKs are answered from the
    sender's history and PLI/FIR go to the forwarder. Receiver reports (statistics only) and REMB
    (there is no encoder to steer) are dropped, as aiortc's pack path would ignore them too.
    """

    def __init__(self) -> None:
        self.senders: dict[int, LeanSender] = {}
        self.reports_sent = 0
        self.feedback_received = 0  # NACK, PLI and FIR packets handled (tests and diagnostics)
        self._dtls: Any = None
        self._cname = b""
        self._hooks = SocketHooks()
        self._unprotect: Callable[[bytes], bytes] | None = None

    def add(self, lean: LeanSender) -> None:
        self.senders[lean.ssrc] = lean

    def remove(self, lean: LeanSender) -> None:
        if self.senders.get(lean.ssrc) is lean:
            del self.senders[lean.ssrc]

    def attach(self, dtls: Any, cname: str) -> None:
        """A sender started on ``dtls``: wrap its ICE sockets' callbacks."""
        self._dtls = dtls
        self._cname = cname.encode()[:255]
        self._hooks.wrap(dtls, self._hook)

    def _hook(self, original: Datagrams) -> Datagrams:
        def datagram_received(data: bytes, addr: Any) -> None:
            if 127 < data[0] < 192 and 191 < data[1] < 224:  # SRTCP (RFC 5761)
                session = self._dtls._rx_srtp
                if session is not None:
                    if self._unprotect is None:
                        self._unprotect = fast_srtp(session, unprotect=True, rtcp=True)
                    try:
                        plain = self._unprotect(data)
                    except pylibsrtp.Error:
                        return  # a replay or a forgery: aiortc drops it too
                    self.on_rtcp(plain)
                    return
            original(data, addr)

        return datagram_received

    def on_rtcp(self, plain: bytes) -> None:
        """Walk a compound RTCP packet for generic NACK (205/1), PLI (206/1) and FIR (206/4)."""
        pos, end = 0, len(plain)
        while pos + 12 <= end:
            first, kind, words = _RTCP_HEADER.unpack_from(plain, pos)
            after = pos + 4 + 4 * words
            if after > end:
                return
            fmt = first & 0x1F
            if kind == 205 and fmt == 1:
                lean = self.senders.get(int.from_bytes(plain[pos + 8 : pos + 12], "big"))
                if lean is not None:
                    lost: list[int] = []
                    for fci in range(pos + 12, after - 3, 4):
                        pid, blp = _NACK_FCI.unpack_from(plain, fci)
                        lost.append(pid)
                        lost.extend((pid + bit + 1) & 0xFFFF for bit in range(16) if blp >> bit & 1)
                    self.feedback_received += 1
                    lean.retransmit(lost)
            elif kind == 206 and fmt in (1, 4):
                at = pos + 8 if fmt == 1 else pos + 12  # FIR names the media source in its FCI
                lean = self.senders.get(int.from_bytes(plain[at : at + 4], "big"))
                if lean is not None:
                    self.feedback_received += 1
                    lean.on_keyframe_request()
            pos = after

    def send_reports(self) -> bool:
        """One compound packet: an SR for each track that has sent, then their CNAMEs in one SDES."""
        route = nominated_route(self._dtls) if self._dtls is not None else None
        live = [lean for lean in self.senders.values() if lean.packets_sent]
        if route is None or not live:
            return False
        parts = [lean.sender_report() for lean in live]
        for group in range(0, len(live), 31):  # an SDES packet counts its chunks in 5 bits
            chunks = b"".join(_sdes_chunk(lean.ssrc, self._cname) for lean in live[group : group + 31])
            count = min(31, len(live) - group)
            parts.append(_RTCP_HEADER.pack(0x80 | count, 202, len(chunks) // 4) + chunks)
        with contextlib.suppress(OSError, pylibsrtp.Error):
            route[0].sendto(self._dtls._tx_srtp.protect_rtcp(b"".join(parts)), route[1])
            self.reports_sent += 1
        return True

    def close(self) -> None:
        """Unwrap the sockets and forget the senders."""
        self._hooks.unwrap()
        self.senders.clear()


def _sdes_chunk(ssrc: int, cname: bytes) -> bytes:
    """One SDES chunk with a CNAME item, null-terminated and padded to 32 bits (RFC 3550 6.5)."""
    body = struct.pack("!IBB", ssrc, 1, len(cname)) + cname
    return body + b"\x00" * (4 - len(body) % 4)


def nominated_route(dtls: Any) -> tuple[Any, Any] | None:
    """The nominated ICE pair's datagram transport and remote address, once DTLS is connected."""
    if dtls._tx_srtp is None or dtls.state != "connected":
        return None
    pair = dtls.transport._connection._nominated.get(1)
    transport = pair.protocol.transport if pair is not None else None
    if transport is None or transport.is_closing():
        return None
    return transport, pair.remote_addr


def fast_srtp(session: Any, unprotect: bool = False, rtcp: bool = False) -> Callable[[bytes], bytes]:
    """``Session.(un)protect(_rtcp)`` without their per-call checks and allocation (1.4 of 4.4 us here).

    Uses pylibsrtp's own buffer and context, exactly as ``Session`` does; falls back to the public
    method if those are not where pylibsrtp 1.0 keeps them. Raises ``pylibsrtp.Error`` as they do.
    """
    try:
        srtp, cdata, buffer = session._srtp[0], session._cdata, session._buffer
    except AttributeError:
        name = ("unprotect" if unprotect else "protect") + ("_rtcp" if rtcp else "")
        public: Callable[[bytes], bytes] = getattr(session, name)
        return public
    length = _srtp.ffi.new("int *")
    process = getattr(_srtp.lib, ("srtp_unprotect" if unprotect else "srtp_protect") + ("_rtcp" if rtcp else ""))
    limit = len(cdata) - (0 if unprotect else SRTP_TRAILER)

    def fast(data: bytes) -> bytes:
        size = len(data)
        if size > limit:
            raise ValueError("packet is too long")
        length[0] = size
        buffer[0:size] = data
        status = process(srtp, cdata, length)
        if status:
            raise pylibsrtp.Error(f"srtp_{'un' if unprotect else ''}protect failed: {status}")
        processed: bytes = buffer[0 : length[0]]  # slicing the cffi buffer copies out
        return processed

    return fast


# --- ICE ------------------------------------------------------------------------------------------

_original_host_addresses = aioice.ice.get_host_addresses


def _host_addresses_with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses: list[str] = _original_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    if use_ipv4 and "127.0.0.1" not in addresses:
        addresses.append("127.0.0.1")
    return addresses


def enlarge_receive_buffers(pc: Any, size: int) -> None:
    """Ask for ``size`` bytes of kernel receive buffer on a connection's ICE sockets (capped by rmem_max).

    A publisher's burst (a keyframe is dozens of packets) must not overflow while the event loop is
    busy forwarding: every packet lost upstream is lost for every subscriber until NACK repairs it.
    """
    for transceiver in pc.getTransceivers()[:1]:  # bundled: one ICE transport for all of them
        for protocol in transceiver.receiver.transport.transport._connection._protocols:
            sock = protocol.transport.get_extra_info("socket") if protocol.transport else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def enable_loopback_candidates() -> None:
    """Process-wide: aioice will also offer 127.0.0.1 host candidates (tests and local demos only)."""
    aioice.ice.get_host_addresses = _host_addresses_with_loopback
