"""aiortc's SDP: its parser run first on a member's SDP, and what its negotiation leaves out, put back.

``sdp_refusal``: aiortc's own SDP parser, run on a member's SDP before any connection is built or touched.

``RTCPeerConnection.setRemoteDescription`` parses first too, but by then the engine has created the
connection (a fresh offer) or added transceivers for the offer's new m-lines (a renegotiation), so a
refusal there leaves work behind. Parsing here first means a refused SDP costs one parse and nothing
else. Seam: ``aiortc.sdp.SessionDescription.parse`` (pinned by ``tests/media/test_seam.py``).

``accept_rid_extension`` and ``accept_transport_cc``: header extensions and feedback a publisher's
browser offers that aiortc does not negotiate by itself, added to a transceiver's negotiated
parameters after ``setRemoteDescription`` (seam: ``RTCRtpTransceiver._headerExtensions`` and
``_codecs``), so they go into the answer and configure the transport's RTP header parser.
"""

from __future__ import annotations

from typing import Any

from aiortc import RTCRtpHeaderExtensionParameters
from aiortc.rtcrtpparameters import RTCRtcpFeedback
from aiortc.sdp import SessionDescription

from server.media.simulcast import RID_URI
from server.media.transport_cc import TRANSPORT_CC_URI


def sdp_refusal(sdp: str) -> str | None:
    """None when aiortc can parse ``sdp``; otherwise what it objected to (an exception's name)."""
    try:
        SessionDescription.parse(sdp)
    except Exception as exc:  # the parser raises ValueError, AssertionError, IndexError, KeyError...
        return type(exc).__name__
    return None


def accept_rid_extension(transceiver: Any, extension_id: int) -> None:
    """Negotiate the RTP stream id header extension (``simulcast.RID_URI``) a simulcast offer gave
    ``extension_id``. aiortc does not support it, so it would leave it out of the answer, the browser
    would not send it, and no layer's SSRC could be named. Appended to the transceiver's negotiated
    extensions (seam: ``RTCRtpTransceiver._headerExtensions``, after setRemoteDescription) it goes into
    the answer and into the receive parameters that configure the DTLS transport's parser, which then
    fills ``RtpPacket.extensions.rtp_stream_id`` on aiortc's path."""
    _keep_extension(transceiver, RID_URI, extension_id)


def accept_transport_cc(transceiver: Any, extension_id: int) -> None:
    """Negotiate transport-wide congestion control (``server.media.transport_cc``) with a publisher
    whose offer gave its sequence number extension ``extension_id``: the extension, and the
    ``transport-cc`` feedback on each codec (aiortc offers neither, so it would drop both). aiortc's
    header parser knows the extension, so ``RtpPacket.extensions.transport_sequence_number`` is
    filled on its path; ``LeanReceiver`` reads the id from the transport's map for the lean path.
    The codecs are the one per kind ``peers.prefer_single_codec`` leaves (no RTX)."""
    _keep_extension(transceiver, TRANSPORT_CC_URI, extension_id)
    feedback = RTCRtcpFeedback(type="transport-cc")
    for codec in transceiver._codecs:
        if feedback not in codec.rtcpFeedback:
            codec.rtcpFeedback.append(feedback)


def _keep_extension(transceiver: Any, uri: str, extension_id: int) -> None:
    """Add ``uri`` under the offer's ``extension_id`` to the transceiver's negotiated extensions, once
    (aiortc recomputes them at each setRemoteDescription, so callers run at each renegotiation)."""
    kept: list[RTCRtpHeaderExtensionParameters] = transceiver._headerExtensions
    if not any(ext.uri == uri for ext in kept):
        kept.append(RTCRtpHeaderExtensionParameters(id=extension_id, uri=uri))
