"""The VP8 payload descriptor (RFC 7741 section 4.2): what the forwarder reads and rewrites in it.

The forwarder never looks past the descriptor except for the payload header's keyframe bit (an
end-to-end encrypted page keeps the first bytes of the VP8 payload in clear, and the descriptor is
written by the packetizer after the encoded transform, so it is always in clear).

Why rewriting: the layers of a simulcast video each number their pictures (PictureID), their base
layer pictures (TL0PICIDX) and their keyframes (KEYIDX) from their own random starts. A subscriber
moved from one layer to another sees one stream (one SSRC, continuous sequence numbers and timeline),
so its indexes must continue too: a Chromium receiver takes a picture id that jumps or goes back for
lost or stale frames (seen: over half a second without a picture at the first switch). At a switch a
``Sink`` re-bases its three offsets so the new layer's keyframe carries the last index sent + 1, and
applies them to every packet after (``Sink.forward``; ``_fastpath.c``'s ``renumber`` does the same).

The rule for the two PictureID forms: an index is a 15-bit number (libwebrtc, Firefox and aiortc
write the 7-bit form only for values up to 127, and libwebrtc's receiver reads both as 15 bits). A
7-bit field keeps its form while the rewritten id fits in 7 bits; when it does not, the field widens
to the 15-bit form (M bit set, the packet one byte longer), since a 7-bit field cannot carry it and
cutting it to 7 bits would make the id jump. A 15-bit field stays 15-bit.
"""

from __future__ import annotations

from typing import NamedTuple

PICTURE_ID_MASK = 0x7FFF
TL0PICIDX_MASK = 0xFF
KEYIDX_MASK = 0x1F


class Indexes(NamedTuple):
    """Where a descriptor's running indexes are: the PictureID's size (0: none, 1 or 2 bytes, always at
    offset 2), and the offsets of TL0PICIDX and of the byte holding KEYIDX (0: none)."""

    picture_size: int
    tl0_at: int
    keyidx_at: int


def vp8_descriptor_size(payload: bytes) -> int | None:
    """Length of the VP8 payload descriptor at the start of an RTP payload, or None when the payload
    ends inside it: the packet comes from the network, and this runs in a socket callback, so a
    truncated descriptor (``b"\\x90"``) is an answer, not an ``IndexError`` (as in ``_fastpath.c``'s
    ``vp8_keyframe``)."""
    if not payload:
        return None
    size = 1
    if payload[0] & 0x80:
        if len(payload) < 2:
            return None
        ext = payload[1]
        size = 2
        if ext & 0x80:
            if len(payload) <= size:
                return None
            size += 2 if payload[size] & 0x80 else 1
        if ext & 0x40:
            size += 1
        if ext & 0x30:
            size += 1
    return size if size <= len(payload) else None


def vp8_starts_frame(payload: bytes) -> bool:
    """S bit set and partition index 0: the first packet of a frame."""
    return bool(payload) and payload[0] & 0x10 != 0 and payload[0] & 0x07 == 0


def vp8_is_keyframe(first_payload: bytes) -> bool:
    """Bit 0 of the VP8 payload header (first byte after the descriptor) is 0 on keyframes."""
    offset = vp8_descriptor_size(first_payload)
    return offset is not None and len(first_payload) > offset and first_payload[offset] & 0x01 == 0


def indexes(payload: bytes) -> Indexes | None:
    """Where the running indexes of this descriptor are, or None when it has none (no X bit) or is cut
    short (then it is forwarded as it came)."""
    if len(payload) < 2 or not payload[0] & 0x80:
        return None
    ext = payload[1]
    at, picture_size, tl0_at, keyidx_at = 2, 0, 0, 0
    if ext & 0x80:
        if len(payload) <= at:
            return None
        picture_size = 2 if payload[at] & 0x80 else 1
        at += picture_size
    if ext & 0x40:
        tl0_at, at = at, at + 1
    if ext & 0x30:
        keyidx_at = at if ext & 0x10 else 0
        at += 1
    return Indexes(picture_size, tl0_at, keyidx_at) if at <= len(payload) else None


def read_indexes(payload: bytes) -> tuple[int, int, int] | None:
    """(PictureID, TL0PICIDX, KEYIDX) of a descriptor, -1 for one it does not carry; None as ``indexes``."""
    where = indexes(payload)
    if where is None:
        return None
    size, tl0_at, keyidx_at = where
    picture = -1 if not size else payload[2] & 0x7F if size == 1 else (payload[2] & 0x7F) << 8 | payload[3]
    return picture, payload[tl0_at] if tl0_at else -1, payload[keyidx_at] & KEYIDX_MASK if keyidx_at else -1


class Offsets(NamedTuple):
    """What a sink adds to each running index (modulo its width): all zero until its first switch."""

    picture: int = 0
    tl0: int = 0
    keyidx: int = 0


def rebase(last: tuple[int, int, int] | None, first: tuple[int, int, int] | None, offsets: Offsets) -> Offsets:
    """The offsets that make ``first`` (a new layer's keyframe, as it came) carry ``last`` (the newest
    indexes sent, as they went out) + 1; an index either lacks keeps its offset."""
    if last is None or first is None:
        return offsets
    masks = (PICTURE_ID_MASK, TL0PICIDX_MASK, KEYIDX_MASK)
    return Offsets(
        *(
            kept if was < 0 or now < 0 else (was + 1 - now) & mask
            for was, now, kept, mask in zip(last, first, offsets, masks, strict=True)
        )
    )


def renumber(payload: bytes, offsets: Offsets) -> bytes:
    """``payload`` with its indexes shifted by ``offsets`` (the module's docstring says how a 7-bit
    PictureID that no longer fits widens). Nothing past the descriptor changes."""
    where = indexes(payload)
    if where is None:
        return payload
    size, tl0_at, keyidx_at = where
    out = bytearray(payload)
    if tl0_at:
        out[tl0_at] = (out[tl0_at] + offsets.tl0) & TL0PICIDX_MASK
    if keyidx_at:
        out[keyidx_at] = (out[keyidx_at] & ~KEYIDX_MASK) | ((out[keyidx_at] + offsets.keyidx) & KEYIDX_MASK)
    if size:
        old = payload[2] & 0x7F if size == 1 else (payload[2] & 0x7F) << 8 | payload[3]
        new = (old + offsets.picture) & PICTURE_ID_MASK
        if size == 1 and new <= 0x7F:
            out[2] = new
        else:
            out[2 : 2 + size] = bytes([0x80 | new >> 8, new & 0xFF])  # a 7-bit field too small widens
    return bytes(out)
