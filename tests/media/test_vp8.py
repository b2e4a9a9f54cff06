"""The VP8 payload descriptor's running indexes (server/media/vp8.py): read, re-based at a layer
switch and shifted, with the 7-bit PictureID rule, and nothing after the descriptor touched."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.media.vp8 import Offsets, read_indexes, rebase, renumber, vp8_descriptor_size

# X; I L T K; 15-bit PictureID 0x1234; TL0PICIDX 250; TID 0, Y, KEYIDX 30; then a VP8 keyframe header
WIDE = bytes([0x90, 0xF0, 0x92, 0x34, 250, 0x20 | 30]) + bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A]) + b"\x55" * 40
NARROW = bytes([0x90, 0xE0, 0x05, 7, 0x40]) + b"\x31" * 20  # 7-bit PictureID 5, TL0PICIDX 7, TID 1 (no K)
PLAIN = bytes([0x10, 0x00, 0x9D]) + b"\x11" * 20  # no X bit: no indexes at all


def test_indexes_are_read_in_both_picture_id_forms() -> None:
    assert read_indexes(WIDE) == (0x1234, 250, 30)
    assert read_indexes(NARROW) == (5, 7, -1)
    assert read_indexes(PLAIN) is None
    assert read_indexes(WIDE[:4]) is None  # cut short inside the descriptor


def test_a_new_layers_keyframe_continues_the_indexes_last_sent() -> None:
    offsets = rebase((0x7FFF, 255, 31), read_indexes(WIDE), Offsets())
    assert read_indexes(renumber(WIDE, offsets)) == (0, 0, 0)  # each wraps at its own width
    assert rebase(None, read_indexes(WIDE), offsets) == offsets  # nothing sent yet: nothing to continue
    assert rebase((10, -1, -1), (20, 3, 4), Offsets(1, 2, 3)) == Offsets((10 + 1 - 20) & 0x7FFF, 2, 3)


def test_only_the_indexes_change_and_the_vp8_payload_after_the_descriptor_stays_as_it_came() -> None:
    """An end-to-end encrypted frame keeps its first VP8 payload bytes in clear and encrypts the rest:
    neither may change, nor the descriptor's other bits (TID, Y, the first byte)."""
    out = renumber(WIDE, Offsets(picture=1, tl0=10, keyidx=5))
    assert out[6:] == WIDE[6:] and out[:2] == WIDE[:2]
    assert read_indexes(out) == (0x1235, 4, 3)
    assert out[5] & 0xE0 == WIDE[5] & 0xE0
    assert renumber(PLAIN, Offsets(3, 3, 3)) == PLAIN


def test_a_7_bit_picture_id_keeps_its_form_while_the_id_fits_and_widens_when_it_does_not() -> None:
    fits = renumber(NARROW, Offsets(picture=100))
    assert len(fits) == len(NARROW) and read_indexes(fits) == (105, 7, -1) and not fits[2] & 0x80
    wide = renumber(NARROW, Offsets(picture=0x1000))
    assert len(wide) == len(NARROW) + 1 and wide[2] & 0x80  # M bit: the 15-bit form
    assert read_indexes(wide) == (0x1005, 7, -1)
    assert vp8_descriptor_size(wide) == vp8_descriptor_size(NARROW) + 1  # type: ignore[operator]
    assert wide[6:] == NARROW[5:]  # the rest moved on by the one byte, unchanged


@given(st.binary(max_size=12), st.integers(0, 0x7FFF), st.integers(0, 255), st.integers(0, 31))
def test_renumbering_any_payload_keeps_it_a_descriptor_of_the_shifted_indexes(
    payload: bytes, picture: int, tl0: int, keyidx: int
) -> None:
    before = read_indexes(payload)
    after = renumber(payload, Offsets(picture, tl0, keyidx))
    if before is None:
        assert after == payload
        return
    shifted = read_indexes(after)
    assert shifted is not None
    for old, new, add, mask in zip(before, shifted, (picture, tl0, keyidx), (0x7FFF, 0xFF, 0x1F), strict=True):
        assert new == (-1 if old < 0 else (old + add) & mask)
    size_before, size_after = vp8_descriptor_size(payload), vp8_descriptor_size(after)
    assert size_before is not None and size_after is not None
    assert after[size_after:] == payload[size_before:]
