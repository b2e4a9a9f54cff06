"""Simulcast in the SDP (RFC 8853, RFC 8851): which layers a publisher offers, and the answer's accept.

A browser asked for simulcast (``sendEncodings`` with ``rid``s, ``web/rtc.js``) offers its video
m-line with ``a=rid:<rid> send`` for each layer and ``a=simulcast:send <rid>;<rid>``. aiortc's SDP
layer keeps neither, so its answer would be read as "no simulcast" and the browser would send one
stream. ``offered_layers`` reads the layers from the offer's text and ``accept_layers`` writes the
matching ``a=rid:<rid> recv`` and ``a=simulcast:recv`` into aiortc's answer; the RTP stream id header
extension that names each layer's SSRC is kept by ``seam.sdp.accept_rid_extension``.

Layers are listed lowest first: ``web/rtc.js`` orders its encodings so (scaled down most first), and
the browser lists them in the ``a=simulcast`` line in that order. Pure text work: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.media.extmap import extension_ids

MAX_LAYERS = 3  # layers a publisher may send (RIDs offered beyond these are not accepted: not sent)
_RID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")  # RFC 8851's rid-syntax, with a length bound of ours
RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"


@dataclass(frozen=True)
class Layers:
    """One video m-line's simulcast offer: its mid, its layers' RIDs (lowest first), and the id the
    offer gave the RTP stream id header extension (None: not offered, so no layer can be named)."""

    mid: str
    rids: tuple[str, ...]
    extension_id: int


def _sections(sdp: str) -> list[str]:
    return re.split(r"\r?\n(?=m=)", sdp)


def offered_layers(sdp: str) -> dict[str, Layers]:
    """The video m-lines offered with two or more simulcast layers, by mid. A layer marked paused
    (``~``) or with alternatives (``,``: the first is taken) is read as a RID like the others; a
    RID that is not declared ``send`` by an ``a=rid`` line, malformed or repeated is left out."""
    found: dict[str, Layers] = {}
    for section in _sections(sdp)[1:]:
        if not section.startswith("m=video"):
            continue
        lines = section.splitlines()
        mid = next((line[6:].strip() for line in lines if line.startswith("a=mid:")), None)
        declared = {
            parts[0]
            for line in lines
            if line.startswith("a=rid:") and len(parts := line[6:].split()) >= 2 and parts[1] == "send"
        }
        simulcast = next((line[12:].split() for line in lines if line.startswith("a=simulcast:")), None)
        if mid is None or not simulcast or len(simulcast) < 2 or simulcast[0] != "send":
            continue
        rids: list[str] = []
        for stream in simulcast[1].split(";"):
            rid = stream.split(",")[0].lstrip("~")
            if rid in declared and _RID.match(rid) and rid not in rids:
                rids.append(rid)
        ids = extension_ids(lines, RID_URI)
        extension_id = ids[-1] if ids else None
        if len(rids) >= 2 and extension_id is not None:
            found[mid] = Layers(mid, tuple(rids[:MAX_LAYERS]), extension_id)
    return found


def accept_layers(answer: str, layers: dict[str, Layers]) -> str:
    """aiortc's answer with each offered layer accepted (``a=rid:<rid> recv``, ``a=simulcast:recv``)
    in the m-section of the same mid; other sections, and an answer with no layers, are unchanged."""
    if not layers:
        return answer
    newline = "\r\n" if "\r\n" in answer else "\n"
    sections = _sections(answer)
    for index, section in enumerate(sections):
        mid = re.search(r"^a=mid:(\S+)", section, re.MULTILINE)
        offered = layers.get(mid.group(1)) if mid else None
        if offered is None or not section.startswith("m=video"):
            continue
        body = section.rstrip("\r\n")
        lines = [f"a=rid:{rid} recv" for rid in offered.rids] + [f"a=simulcast:recv {';'.join(offered.rids)}"]
        sections[index] = body + newline + newline.join(lines) + section[len(body) :]
    return newline.join(sections)
