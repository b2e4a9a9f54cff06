"""aiortc's own SDP parser, run on a member's SDP before any connection is built or touched.

``RTCPeerConnection.setRemoteDescription`` parses first too, but by then the engine has created the
connection (a fresh offer) or added transceivers for the offer's new m-lines (a renegotiation), so a
refusal there leaves work behind. Parsing here first means a refused SDP costs one parse and nothing
else. Seam: ``aiortc.sdp.SessionDescription.parse`` (pinned by ``tests/media/test_seam.py``).
"""

from __future__ import annotations

from aiortc.sdp import SessionDescription


def sdp_refusal(sdp: str) -> str | None:
    """None when aiortc can parse ``sdp``; otherwise what it objected to (an exception's name)."""
    try:
        SessionDescription.parse(sdp)
    except Exception as exc:  # the parser raises ValueError, AssertionError, IndexError, KeyError...
        return type(exc).__name__
    return None
