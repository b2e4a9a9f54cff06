"""The compiled path (``server/media/_fastpath.c``) and its Python twin refuse bad input alike, and
share their constants.

The C module and its Python twin each define the history size, the NACK window, the restart window and
the SRTP trailer; they used to be kept in sync by comments. The module now exports its own, and this
test holds each equal to the Python one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.media.seam import compiled
from server.media.seam.inbound import NACK_WINDOW, PICTURE_RING
from server.media.seam.resend import HISTORY_SIZE
from server.media.seam.transport import SRTP_TRAILER
from server.media.sink import RESTART_WINDOW
from server.media.vp8 import vp8_descriptor_size, vp8_is_keyframe

_fastpath: Any = compiled.BUILT
STUB = Path(__file__).resolve().parents[2] / "server" / "media" / "_fastpath.pyi"
# Parsed at import, before any test runs: under CPython 3.11.7 ast.parse raised "SystemError: AST
# constructor recursion depth mismatch (before=120, after=167)" late in a fast-suite run (an interpreter
# bug in the depth accounting of the AST converter, not the stub: the same test passes alone).
STUB_TREE = ast.parse(STUB.read_text())


def public(names: Iterable[str]) -> set[str]:
    return {name for name in names if not name.startswith("_")}


def stub_names(body: list[ast.stmt]) -> set[str]:
    """What a stub body defines: functions, classes, and (annotated) names, without imports."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return public(names)


def test_the_stub_names_exactly_what_the_built_module_exports() -> None:
    """server/media/_fastpath.pyi is what mypy reads for the module: a name the C side adds, renames or
    drops must show here, and so must each class's methods and attributes."""
    tree = STUB_TREE
    assert stub_names(tree.body) == public(dir(_fastpath))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    assert set(classes) == {"Inlet", "Outlet"}
    for name, node in classes.items():
        built = public(dir(getattr(_fastpath, name))) - public(dir(object))
        assert stub_names(node.body) == built, name


def test_the_compiled_constants_are_the_python_ones() -> None:
    assert _fastpath is not None, "the compiled module is not built (pip install builds it)"
    assert _fastpath.HISTORY_SIZE == HISTORY_SIZE
    assert _fastpath.NACK_WINDOW == NACK_WINDOW
    assert _fastpath.PICTURE_RING == PICTURE_RING
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
