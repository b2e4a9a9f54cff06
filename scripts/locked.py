"""What the lock files pin, and how the running environment differs from them (standard library only).

`scripts/setup.sh --test` runs `python scripts/locked.py unlocked requirements/...` to remove whatever
an older setup left in .venv that the lock no longer names, so the suite runs on exactly the locked
set; `tests/install/test_lock.py` asserts, with the same functions, that every locked version is the
one installed.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

# A pin line of a compiled requirements file: `name==version`, an optional environment marker, hashes after.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\#]+?))?\s*(?:\\|$)", re.M)
# Distributions that are in a venv without being a dependency: the project itself, and the installers.
NOT_LOCKED = frozenset({"hearth"})


def canonical(name: str) -> str:
    """PEP 503 normalisation, so `PyJWT`, `pyjwt` and `py_jwt` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(*paths: Path) -> dict[str, str]:
    """Every `name==version` in the given files whose environment marker holds here."""
    from packaging.markers import Marker  # in the test lock (pytest's)

    found: dict[str, str] = {}
    for path in paths:
        for name, version, marker in PIN.findall(path.read_text()):
            if not marker or Marker(marker).evaluate():
                found[canonical(name)] = version
    return found


def installed() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}


def differences(paths: list[Path]) -> list[str]:
    """Locked versions that are missing or differ here, and installed distributions no lock names."""
    locked, have = pins(*paths), installed()
    wrong = [
        f"{name}: locked {version}, installed {have.get(name, 'nothing')}"
        for name, version in locked.items()
        if have.get(name) != version
    ]
    extra = sorted(set(have) - set(locked) - NOT_LOCKED)
    return wrong + [f"{name}: installed {have[name]}, not in the lock" for name in extra]


def unlocked(paths: list[Path]) -> list[str]:
    """Installed distributions that no lock names (to uninstall)."""
    return sorted(set(installed()) - set(pins(*paths)) - NOT_LOCKED)


if __name__ == "__main__":
    command, files = sys.argv[1], [Path(p) for p in sys.argv[2:]]
    if command == "unlocked":
        for name in unlocked(files):
            print(name)
    elif command == "check":
        problems = differences(files)
        for problem in problems:
            print(problem)
        sys.exit(1 if problems else 0)
    else:
        sys.exit(f"usage: {sys.argv[0]} unlocked|check LOCK...")
