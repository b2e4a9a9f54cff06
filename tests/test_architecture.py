"""The house's import direction: server -> signaling -> rooms; rooms is pure; only server/media touches aiortc."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMPURE = {
    "asyncio",
    "time",
    "datetime",
    "random",
    "socket",
    "os",
    "aiohttp",
    "aiortc",
    "av",
    "aioice",
    "redis",
    "socketio",
    "engineio",
    "threading",
    "subprocess",
    "uuid",
    "secrets",
}
MEDIA = {"aiortc", "av", "aioice", "pylibsrtp"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules("rooms"), ids=lambda p: p.name)
def test_rooms_is_pure_and_imports_nothing_above_it(path: Path) -> None:
    found = imports(path)
    assert not found & {"signaling", "server"}, found
    assert not found & IMPURE, f"{path.name} does I/O or reads a clock: {found & IMPURE}"


@pytest.mark.parametrize("path", modules("signaling"), ids=lambda p: p.name)
def test_signaling_never_imports_server_or_media(path: Path) -> None:
    found = imports(path)
    assert "server" not in found
    assert not found & MEDIA


@pytest.mark.parametrize("path", [p for p in modules("server") if "media" not in p.parts], ids=lambda p: p.name)
def test_only_server_media_imports_aiortc(path: Path) -> None:
    assert not imports(path) & MEDIA
