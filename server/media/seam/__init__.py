"""Every touch of aiortc/aioice/pylibsrtp internals lives in this package; ``tests/media/test_seam.py`` pins each one.

aiortc has no public API for forwarding encoded media (issues #449, #544, #1155), and its per-packet
paths cost more than the forwarding itself, so the SFU needs internal hooks. Keeping them in one
package means an aiortc upgrade that moves a seam breaks one package and one test module, by name,
instead of silently degrading forwarding. One module per owner:

- ``receive``: ``LeanReceiver`` wraps a publisher connection's ICE socket callbacks and hands each
  SRTP packet of a known SSRC, unprotected, to its ``InboundTrack`` synchronously; aiortc's own path
  still carries an SSRC's first packets (its router names the receiver) into a ``_Tap`` that replaces
  the jitter buffer. RR statistics go into aiortc's ``StreamStatistics``; NACKs and the receiver
  reports (with a fixed REMB) are sent from here. ``decoder_worker`` is wrapped so tapped receivers
  start no decoder thread while other receivers still decode;
- ``send``: ``LeanSender`` writes RTP header + SRTP protect + ``sendto`` itself (aiortc's
  ``_run_rtp`` costs 120-200 us per packet) and answers NACKs from its own history;
- ``rtcp``: ``SubscriberRtcp`` sends one compound SR+SDES per subscriber connection instead of one
  RTCP task per sender, and reads that connection's SRTCP (NACK, PLI, FIR) in its socket callbacks;
- ``transport``: what both sides share: the nominated route, the wrapped ICE sockets, fast SRTP and
  the parked stand-in for aiortc's per-sender/receiver RTCP task;
- ``compiled``: loads the compiled packet path (``server/media/_fastpath.c``) and hands it libsrtp's
  ``srtp_protect``/``srtp_unprotect`` by address from pylibsrtp's binding;
- ``ice``: loopback host candidates (aioice skips 127.0.0.1; tests and single-machine demos add it),
  larger kernel receive buffers on a connection's ICE sockets, and consent checks retransmitted and
  expiring after 30 s without an answer (RFC 7675; aioice's gave up on answers slower than 0.5 s);
- ``guard``: what may enter an ICE socket (RFC 7983 demultiplexing, shortest headers, DTLS/SRTP only
  from addresses the connection's ICE checks proved), the rules both legs' socket hooks apply first;
- ``sdp``: aiortc's SDP parser, run on a member's SDP before any connection is built or touched.

The names below are the package's interface: ``from server.media import seam; seam.LeanSender``.
Module-level state (the decoder-bypass set, the original ``decoder_worker`` and host-address lister)
lives in, and is read from, the submodule that uses it.
"""

from server.media.seam.guard import DROP_REASONS, Drops, admit, validated_sources
from server.media.seam.ice import enable_loopback_candidates, enlarge_receive_buffers, install_consent_freshness
from server.media.seam.inbound import NACK_WINDOW, InboundTrack, RtpConsumer
from server.media.seam.receive import LeanReceiver, install_decoder_bypass, request_keyframe
from server.media.seam.resend import HISTORY_MASK, HISTORY_SIZE, KEYFRAME_ASKED, KEYFRAME_STALE_NACK
from server.media.seam.rtcp import SubscriberRtcp
from server.media.seam.sdp import accept_rid_extension, accept_transport_cc, sdp_refusal
from server.media.seam.send import (
    MAX_BUFFERED,
    MID_URI,
    NTP_EPOCH_OFFSET,
    ConnectionRtcp,
    IdleTrack,
    LeanSender,
    drop_receiving_state,
    set_msid,
)
from server.media.seam.transport import SRTP_TRAILER, Datagrams, SocketHooks, fast_srtp, nominated_route

__all__ = [
    "DROP_REASONS",
    "HISTORY_MASK",
    "HISTORY_SIZE",
    "KEYFRAME_ASKED",
    "KEYFRAME_STALE_NACK",
    "MAX_BUFFERED",
    "MID_URI",
    "NACK_WINDOW",
    "NTP_EPOCH_OFFSET",
    "SRTP_TRAILER",
    "ConnectionRtcp",
    "Datagrams",
    "Drops",
    "IdleTrack",
    "InboundTrack",
    "LeanReceiver",
    "LeanSender",
    "RtpConsumer",
    "SocketHooks",
    "SubscriberRtcp",
    "accept_rid_extension",
    "accept_transport_cc",
    "admit",
    "drop_receiving_state",
    "enable_loopback_candidates",
    "enlarge_receive_buffers",
    "fast_srtp",
    "install_consent_freshness",
    "install_decoder_bypass",
    "nominated_route",
    "request_keyframe",
    "sdp_refusal",
    "set_msid",
    "validated_sources",
]
