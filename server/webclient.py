"""Where the browser client is, which of its files are served, and the vendored Socket.IO client's check.

One module (standard library only) for the three places that need it: the server (``web_routes``
serves what ``is_served`` allows from the directory ``locate`` finds), and ``setup.py``, which copies
exactly those files into the wheel as ``server/web/`` together with the Socket.IO browser bundle, after
checking that the bundle in ``web/node_modules`` is the version ``web/package-lock.json`` locks.

A checkout serves ``web/`` itself (edit a module, reload the page); an installed wheel serves the
copy inside the package, so it needs neither the checkout nor npm at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

STATIC_SUFFIXES = frozenset({".js", ".css", ".html", ".svg", ".png", ".ico", ".woff2", ".json", ".map"})
# The Socket.IO client's ES module bundle and its source map, as the page imports them (/web/vendor/...),
# and its licence, which travels with the copy in the wheel.
VENDOR_FILES = ("socket.io.esm.min.js", "socket.io.esm.min.js.map")
VENDOR_PACKAGE = "socket.io-client"
CHECKOUT_VENDOR = Path("node_modules") / VENDOR_PACKAGE / "dist"
PACKAGED_VENDOR = Path("vendor")
# npm manifests, the type checker's projects (tests/web/test_typecheck.py) and the linter's config
# (tests/web/test_lint.py): development files, not the page's.
HIDDEN_NAMES = frozenset(
    {
        "package.json",
        "package-lock.json",
        "tsconfig.json",
        "tsconfig.worker.json",
        "eslint.config.js",
    }
)

SERVER_DIR = Path(__file__).resolve().parent
PACKAGED_DIR = SERVER_DIR / "web"  # inside an installed wheel (setup.py puts it there)
CHECKOUT_DIR = SERVER_DIR.parent / "web"  # the repository's web/


@dataclass(frozen=True)
class WebClient:
    """The client's directory and the directory holding ``VENDOR_FILES``."""

    root: Path
    vendor: Path


def locate() -> WebClient:
    """The packaged copy when this is an installed wheel, else the checkout's ``web/``."""
    if (PACKAGED_DIR / "index.html").is_file():
        return WebClient(PACKAGED_DIR, PACKAGED_DIR / PACKAGED_VENDOR)
    return WebClient(CHECKOUT_DIR, CHECKOUT_DIR / CHECKOUT_VENDOR)


def is_served(relative: PurePosixPath) -> bool:
    """A client file a browser may fetch: no dotfiles, no node_modules, no unit tests, no tool manifests."""
    parts = relative.parts
    if not parts or parts[0] in {"test", "vendor"} or any(p.startswith(".") or p == "node_modules" for p in parts):
        return False
    return relative.suffix in STATIC_SUFFIXES and relative.name not in HIDDEN_NAMES


def served_files(root: Path) -> list[PurePosixPath]:
    """Every file under ``root`` that ``is_served``, relative to it, sorted (what the wheel carries)."""
    found = (PurePosixPath(path.relative_to(root).as_posix()) for path in root.rglob("*") if path.is_file())
    return sorted(path for path in found if is_served(path))


class VendorMismatch(Exception):
    """web/node_modules does not hold the Socket.IO client that web/package-lock.json locks."""


def checked_vendor_files(web_dir: Path) -> list[Path]:
    """The bundle's files in ``web_dir``'s node_modules, after checking their version against the lock."""
    lock = json.loads((web_dir / "package-lock.json").read_text())
    locked = lock["packages"][f"node_modules/{VENDOR_PACKAGE}"]["version"]
    package = web_dir / "node_modules" / VENDOR_PACKAGE
    try:
        present = json.loads((package / "package.json").read_text())["version"]
    except FileNotFoundError:
        raise VendorMismatch(f"{package} is missing: run `npm ci` in {web_dir}") from None
    if present != locked:
        raise VendorMismatch(f"{package} is {present}, web/package-lock.json locks {locked}: run `npm ci` in {web_dir}")
    files = [web_dir / CHECKOUT_VENDOR / name for name in VENDOR_FILES] + [package / "LICENSE"]
    absent = [str(path) for path in files if not path.is_file()]
    if absent:
        raise VendorMismatch(f"missing from the Socket.IO client package: {', '.join(absent)}")
    return files
