"""The send side: forwarded RTP written, protected and sent here instead of by aiortc's ``_run_rtp``.

``LeanSender`` writes RTP header + SRTP protect + ``sendto`` itself (aiortc's ``_run_rtp`` costs
120-200 us per packet) and answers NACKs from its own history; its sender reports go out in its
connection's ``SubscriberRtcp`` (``rtcp.py``). When the forwarder gives it a compiled ``Outlet``
(``server/media/_fastpath.c``), ``link`` hands the outlet what it needs (pylibsrtp's context and
``srtp_protect``, the socket, the address) and the outlet does ``send``'s work instead.
``IdleTrack`` parks aiortc's RTP task and ``set_msid`` names the track in the SDP aiortc writes.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from typing import Any, Protocol

import pylibsrtp._binding as _srtp  # type: ignore[import-not-found]
from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
)

from server.media.seam import compiled
from server.media.seam.resend import HISTORY_MASK, HISTORY_SIZE, KEYFRAME_ASKED, Resends
from server.media.seam.transport import SRTP_TRAILER, nominated_route, parked_rtcp, srtp_internals

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
MAX_BUFFERED = 256 * 1024  # bytes a buffering transport (uvloop) may hold before the subscriber lags
NTP_EPOCH_OFFSET = 2208988800
_RTP_OUT = struct.Struct("!BBHII")
_srtp_protect = _srtp.lib.srtp_protect
_SENDER_REPORT = struct.Struct("!BBHIQIII")
SENDER_REPORT_SIZE = _SENDER_REPORT.size  # an SR without report blocks


class ConnectionRtcp(Protocol):
    """What a ``LeanSender`` needs of its connection's RTCP (``rtcp.SubscriberRtcp``)."""

    def add(self, lean: LeanSender) -> None:
        """The sender exists: its feedback goes to it, its reports are sent."""

    def remove(self, lean: LeanSender) -> None:
        """The sender is retired."""

    def attach(self, dtls: Any, cname: str) -> None:
        """The sender started on ``dtls`` with this CNAME."""


def _no_timestamp() -> int | None:
    return None


def _nothing(why: str) -> None:
    """A retired sender's keyframe requests go nowhere."""


class IdleTrack(MediaStreamTrack):
    """Parks ``RTCRtpSender._run_rtp`` on a future that never resolves: the lean sender does the work.

    With no track at all, ``_run_rtp`` would poll every 20 ms per sender.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    async def recv(self) -> Any:
        await asyncio.get_running_loop().create_future()


def drop_receiving_state(receiver: Any) -> None:
    """A sendonly transceiver's receiver never receives: drop the bitrate estimator aiortc builds for
    every video receiver anyway (a rate counter of 1,001 objects). A subscriber connection has one per
    m-line, so 8 x 8 members kept about a million of them alive, which every full collection of the
    cyclic collector walks (``server/heap.py``)."""
    receiver._RTCRtpReceiver__remote_bitrate_estimator = None


def set_msid(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """aiortc writes ``a=msid:<_stream_id> <_track_id>`` in offers; there is no public setter."""
    sender._stream_id = stream_id
    sender._track_id = track_id


def abs_send_time(now: float | None = None) -> bytes:
    """abs-send-time's 24 bits (6.18 fixed-point seconds, any epoch: receivers use differences)."""
    seconds = time.monotonic() if now is None else now
    return (int(seconds * 262144) & 0xFFFFFF).to_bytes(3, "big")


def _one_byte_extensions(elements: list[tuple[int, bytes]]) -> bytes:
    """RFC 8285 one-byte header extension block, padded to 32 bits."""
    body = b"".join(bytes([(ext_id << 4) | (len(value) - 1)]) + value for ext_id, value in elements)
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("!HH", 0xBEDE, len(body) // 4) + body


class LeanSender(Resends):
    """Sends already-packetized RTP payloads on one aiortc sender's transport with minimal work per packet.

    The caller chooses sequence numbers (the forwarder keeps upstream gaps so NACKs can repair them);
    the SSRC is the aiortc sender's, as signalled in SDP. A NACK history keeps protected packets:
    re-protecting an old SRTP index can be refused by libsrtp, so the ciphertext is what is kept.
    The bounded queue of a subscriber is its socket's kernel send buffer: when it is full, ``send``
    reports it and the forwarder treats the subscriber as lagging.
    """

    # The subscriber's latest receiver report about this copy: (fraction lost x/256, ``rtcp.clock()``
    # when read). Written by ``SubscriberRtcp`` for audio, read by ``Source.downstream_loss``.
    reported_loss: tuple[int, float] = (0, float("-inf"))

    def __init__(self, sender: RTCRtpSender, rtcp: ConnectionRtcp) -> None:
        """The subscriber's requests (``on_keyframe_request``, ``on_missing``, ``upstream``) go nowhere
        until the forwarder's ``Sink`` takes them: they follow the simulcast layer it receives."""
        self.sender = sender
        self.rtcp = rtcp
        self.ssrc: int = sender._ssrc
        self.kind: str = sender.kind  # "audio" or "video": receiver reports about video steer the allocator
        self._octets = 0
        self._sr_rtp = 0  # an (RTP timestamp, NTP time) pair of a sent packet, for sender reports
        self._sr_ntp = 0
        self._cname = ""
        self._raw: Any = sender  # private fields are written through this untyped alias
        self.on_keyframe_request: Callable[[str], None] = _nothing  # the subscriber's PLI/FIR: why
        self.on_missing: Callable[[list[int]], None] | None = None  # NACKed packets we never had: repair upstream
        self.upstream: Callable[[int], int | None] | None = None  # ``Sink.upstream_seq``, set by the sink
        self.newest: Callable[[], int | None] = _no_timestamp  # ``Sink.timestamp_out``: stale repair's yardstick
        self.ready = False
        self.retired = False
        self.outlet: Any = None  # the compiled twin of ``send`` (``_fastpath.Outlet``), set by the forwarder
        self._sent = 0
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
        self._abs_at = 0  # offset in ``_ext`` of the abs-send-time value, 0 when not negotiated
        self._history: list[bytes | None] = [None] * HISTORY_SIZE
        self.reset_repair()
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
        ext = ext if parameters.muxId else []
        # abs-send-time, written at each send (video): a subscriber's REMB then measures the delay of our
        # link to it. Without it, a browser's estimate takes the publisher's uplink queue for its own.
        timed = [e.id for e in parameters.headerExtensions if e.uri == ABS_SEND_TIME_URI]
        self._abs_at = 0
        if timed and self.kind == "video":
            self._abs_at = 4 + sum(1 + len(value) for _, value in ext) + 1  # after the block header and mid
            ext.append((timed[0], b"\x00\x00\x00"))
        self._ext = _one_byte_extensions(ext) if ext else b""
        self._first = 0x90 if self._ext else 0x80
        self._dtls = self.sender.transport
        await self._original_send(parameters)
        self.rtcp.attach(self._dtls, parameters.rtcp.cname or "")
        self.ready = True

    async def _run_rtcp(self) -> None:
        """Stands in for ``RTCRtpSender._run_rtcp``: parked until ``stop()``, then BYE as aiortc does."""
        await parked_rtcp(self._raw, "_RTCRtpSender")
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
        internals = srtp_internals(session)
        if internals is None:  # not where pylibsrtp 1.0 keeps them: the public method it is
            self._srtp = None
        else:
            self._srtp, self._cdata, self._buffer = internals
            self._limit = len(self._cdata) - SRTP_TRAILER
        self._payload_at = 12 + len(self._ext)
        if self.outlet is not None:
            if internals is None:
                raise RuntimeError("pylibsrtp moved its SRTP context: the compiled outlet cannot protect")
            context = compiled.context_capsule(session)
            fileno = transport.get_extra_info("socket").fileno()
            self.outlet.attach(session, context, fileno, self._addr[0], self._addr[1], self.ssrc, self._pt, self._ext)
            if self._abs_at:
                self.outlet.set_abs_send_time(self._abs_at)
        return True

    def route_lost(self) -> None:
        """The nominated pair is gone (DTLS closed, ICE consent lost): stop sending until ``link`` finds one."""
        self.sock = None
        self.stop_pacing()
        if self.outlet is not None:
            self.outlet.detach()

    def unlink(self) -> None:
        self.route_lost()
        self.retired = True
        self.rtcp.remove(self)

    def release(self) -> None:
        """After ``unlink`` and aiortc's ``sender.stop()``: let go of everything but aiortc's sender.

        A stopped track's m-line stays in the subscriber connection (inactive: later offers keep their
        order), and with it aiortc's ``RTCRtpSender``. Through the methods this class put on that
        sender, it kept this object alive, and with it the packets kept for NACKs (the compiled
        outlet's included, some 600 KB a video copy) and the publisher's source, receiver and
        connection: every republish cost each subscriber a whole dead publisher (a 30-minute soak of
        8 x 8 grew to 3.8 GB). The stopped sender gets aiortc's own methods back (nothing calls
        them once it is stopped) and this object drops its callbacks and kept packets.
        """
        for name in ("_handle_rtcp_packet", "send", "_run_rtcp"):
            self._raw.__dict__.pop(name, None)
        self.stop_pacing()
        self.on_keyframe_request = _nothing
        self.on_missing = None
        self.upstream = None
        self.outlet = None
        self._history = [None] * HISTORY_SIZE
        self._buffered = None

    @property
    def packets_sent(self) -> int:
        return int(self.outlet.packets_sent) if self.outlet is not None else self._sent

    @property
    def octets(self) -> int:
        return int(self.outlet.octets) if self.outlet is not None else self._octets

    def send(self, payload: bytes, marker: int, timestamp: int, seq: int) -> bool:
        """RTP header + mid extension + SRTP + one ``sendto``; False when the socket buffer is full.

        The header and payload are written straight into pylibsrtp's buffer and protected there
        (``fast_srtp`` inlined: this runs once per packet per subscriber).
        """
        srtp = self._srtp
        if srtp is None:
            header = _RTP_OUT.pack(self._first, (marker << 7) | self._pt, seq, timestamp, self.ssrc)
            ext = self._ext
            if self._abs_at:
                ext = ext[: self._abs_at] + abs_send_time() + ext[self._abs_at + 3 :]
            protected = self._protect(header + ext + payload)  # type: ignore[misc]  # set by link()
        else:
            buffer, start = self._buffer, self._payload_at
            size = start + len(payload)
            if size > self._limit:
                return True  # cannot be protected: drop it as if lost, the subscriber NACKs in vain
            _RTP_OUT.pack_into(buffer, 0, self._first, (marker << 7) | self._pt, seq, timestamp, self.ssrc)
            buffer[12:start] = self._ext
            if self._abs_at:
                buffer[12 + self._abs_at : 15 + self._abs_at] = abs_send_time()
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
        self._sent += 1
        self._octets += len(payload)
        if self._sent & 31 == 1:  # reports go out about once a second
            self._sr_rtp = timestamp
            self._sr_ntp = int((time.time() + NTP_EPOCH_OFFSET) * 4294967296.0)
        return True

    def sender_report(self) -> bytes:
        """An RTCP SR (RFC 3550 6.4.1) without report blocks: this sender receives nothing."""
        outlet = self.outlet
        ntp, rtp = (outlet.sr_ntp, outlet.sr_rtp) if outlet is not None else (self._sr_ntp, self._sr_rtp)
        return _SENDER_REPORT.pack(
            0x80,
            200,
            6,
            self.ssrc,
            ntp,
            rtp,
            self.packets_sent & 0xFFFFFFFF,
            self.octets & 0xFFFFFFFF,
        )

    async def _handle_rtcp_packet(self, packet: Any) -> None:
        """Feedback that came through aiortc's path (before ``rtcp`` hooked the socket): same handling."""
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            self.answer_nack(packet.lost)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            self.on_keyframe_request(KEYFRAME_ASKED)
