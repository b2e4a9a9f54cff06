"""Bounds on the SDP a member sends, checked with a cheap line scan before aiortc parses anything.

An admitted member's 52 KB offer with 1,400 m-lines used to cost up to 2 s of event-loop time (one
transceiver per m-line, then aiortc's negotiation of each) before it was refused, stalling every
session on the node, and left about 9 MB behind each time. Counting lines that start with ``m=``
costs microseconds, and a refused SDP builds nothing: no connection, no transceiver.

``MAX_PUBLISH_SECTIONS``: a member's publisher offer carries one audio and one video m-line (the web
client sends exactly that, and swaps tracks with ``replaceTrack`` instead of renegotiating); 4 leaves
room for a browser that adds a data channel or a second track, and only one track per kind is
forwarded anyway. An answer to the server's subscriber offer must have exactly as many m-lines as
that offer (RFC 3264 section 6), so it is bounded by what the server offered.
``signaling.protocol.MAX_SDP_CHARS`` stays the outer bound on an SDP's size.

``MAX_RETIRED_SECTIONS``: a track that stops because its publisher left keeps its m-line in each
subscriber connection, inactive, because m-lines are never removed (RFC 3264 section 8.2) and aiortc
cannot reuse a stopped sender's (a publisher that publishes again keeps its m-lines live: parked,
then taken over, ``engine._park`` and ``Source.take_over``). A long session with members who leave
and others who join would grow every subscriber's offer and answer without end, past
``MAX_SDP_CHARS`` (about a hundred m-lines of a browser's answer), and then that subscriber's answers
would be refused. Past this many retired m-lines, the engine starts that subscriber's receiving
connection afresh with only the live tracks (a second or so of that subscriber's media, at a moment
its offer was changing anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

from server.media.seam.sdp import sdp_refusal
from signaling.ports import MediaError

MAX_PUBLISH_SECTIONS = 4
MAX_RETIRED_SECTIONS = 16
MEDIA_KINDS = ("audio", "video")


@dataclass(frozen=True)
class Offer:
    """What the engine needs of an accepted publisher offer: its m-line kinds in order, its ICE ufrag."""

    kinds: tuple[str, ...]
    ufrag: str | None


def media_sections(sdp: str) -> int:
    """How many m-lines: a count of line starts, no split (an SDP's first line is ``v=``)."""
    return sdp.count("\nm=")


def publisher_offer(sdp: str) -> Offer:
    """Accept a publisher offer within the limits, or raise ``MediaError("invalid")`` having built nothing."""
    if not sdp.startswith("v=0"):
        raise MediaError("invalid", "not an SDP offer")
    sections = media_sections(sdp)
    if sections > MAX_PUBLISH_SECTIONS:
        raise MediaError("invalid", f"an offer may have at most {MAX_PUBLISH_SECTIONS} m-lines, not {sections}")
    kinds: list[str] = []
    ufrag = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            kinds.append(line[2:].split(" ", 1)[0])
        elif line.startswith("a=ice-ufrag:") and ufrag is None:
            ufrag = line.split(":", 1)[1].strip()
    if not any(kind in MEDIA_KINDS for kind in kinds):
        raise MediaError("invalid", "an offer must carry audio or video")
    _parses(sdp)
    return Offer(tuple(kinds), ufrag)


def subscriber_answer(sdp: str, offered_sections: int) -> None:
    """Accept an answer with as many m-lines as the offer it answers, or raise ``MediaError("invalid")``."""
    if not sdp.startswith("v=0"):
        raise MediaError("invalid", "not an SDP answer")
    sections = media_sections(sdp)
    if sections != offered_sections:
        raise MediaError("invalid", f"the offer had {offered_sections} m-lines, the answer {sections}")
    _parses(sdp)


def _parses(sdp: str) -> None:
    refusal = sdp_refusal(sdp)
    if refusal is not None:
        raise MediaError("invalid", f"SDP refused by the parser ({refusal})")
