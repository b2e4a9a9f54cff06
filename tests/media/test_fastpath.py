"""The compiled path (``server/media/_fastpath.c``) and its Python twin refuse bad input alike, and
share their constants.

The C module and its Python twin each define the history size, the NACK window, the restart window and
the SRTP trailer; they used to be kept in sync by comments. The module now exports its own, and this
test holds each equal to the Python one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from server.media.forwarder import RESTART_WINDOW, vp8_descriptor_size, vp8_is_keyframe
from server.media.seam import compiled
from server.media.seam.receive import NACK_WINDOW
from server.media.seam.send import HISTORY_SIZE
from server.media.seam.transport import SRTP_TRAILER

_fastpath: Any = compiled.BUILT


def test_the_compiled_constants_are_the_python_ones() -> None:
    assert _fastpath is not None, "the compiled module is not built (pip install builds it)"
    assert _fastpath.HISTORY_SIZE == HISTORY_SIZE
    assert _fastpath.NACK_WINDOW == NACK_WINDOW
    assert _fastpath.RESTART_WINDOW == RESTART_WINDOW
    assert _fastpath.SRTP_TRAILER == SRTP_TRAILER


def test_an_inlet_refuses_a_gap_that_is_not_an_integer_without_reading_further() -> None:
    """``PyLong_AsLong`` failing stops the loop: nothing runs with an exception set."""
    pulled: list[object] = []

    def missing() -> Iterator[object]:
        for item in ("x", 5, 6):
            pulled.append(item)
            yield item

    inlet = _fastpath.Inlet()
    with pytest.raises(TypeError):
        inlet.add(0x1234, print, print, print, True, 0, 90000.0, 0, 10, 0, 0, 0, 0, 10, missing())
    assert pulled == ["x"]
    inlet.add(0x1234, print, print, print, True, 0, 90000.0, 0, 10, 0, 0, 0, 0, 10, [5, 6])  # the inlet is still usable


@pytest.mark.parametrize("payload", [b"", b"\x90", b"\x90\x80", b"\x90\xc0\x80", b"\x90\x40"])
def test_a_truncated_vp8_descriptor_is_not_parsable_on_both_paths(payload: bytes) -> None:
    """Python answered ``b"\\x90"`` with an IndexError out of the socket callback; C says no keyframe."""
    assert vp8_descriptor_size(payload) is None
    assert not vp8_is_keyframe(payload)
    assert not _fastpath.is_vp8_keyframe(payload)
