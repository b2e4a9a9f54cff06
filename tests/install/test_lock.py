"""The suite runs on exactly the locked versions, the lock agrees with pyproject.toml, and every library
whose internals Hearth touches is pinned exactly, beside the test that guards that pin."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
PYPROJECT = ROOT / "pyproject.toml"
# The code that reaches into other libraries' internals (the architecture test keeps it there).
SEAM_CODE = [*sorted((ROOT / "server" / "media" / "seam").glob("*.py")), ROOT / "signaling" / "sockets.py"]
# Imported there, but only through the library's public API: a range in pyproject.toml is enough.
PUBLIC_API_ONLY = {"orjson": "signaling/sockets.py calls orjson.dumps only"}


def _locked_module() -> object:
    spec = importlib.util.spec_from_file_location("hearth_locked", ROOT / "scripts" / "locked.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


locked = _locked_module()


def lock(name: str) -> dict[str, str]:
    pins: dict[str, str] = locked.pins(LOCKS / name)  # type: ignore[attr-defined]
    return pins


def project() -> dict[str, list[str]]:
    table = tomllib.loads(PYPROJECT.read_text())["project"]
    return {"runtime": table["dependencies"], "test": table["optional-dependencies"]["test"]}


def test_every_locked_version_is_the_one_installed_and_nothing_unlocked_is() -> None:
    """What `scripts/setup.sh --test` installs; a venv that drifted (a hand-installed upgrade) fails here."""
    problems = locked.differences([LOCKS / "bootstrap.txt", LOCKS / "test.txt"])  # type: ignore[attr-defined]
    assert problems == [], "the venv differs from the lock; run `bash scripts/setup.sh --test`"


def test_the_test_lock_has_the_runtime_locks_versions() -> None:
    runtime, test = lock("runtime.txt"), lock("test.txt")
    assert {name: test.get(name) for name in runtime} == runtime


@pytest.mark.parametrize(("part", "lock_file"), [("runtime", "runtime.txt"), ("test", "test.txt")])
def test_the_lock_satisfies_every_requirement_of_pyproject(part: str, lock_file: str) -> None:
    """A requirement changed in pyproject.toml without `bash scripts/lock.sh` fails here."""
    pins = lock(lock_file)
    for line in project()[part]:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = locked.canonical(requirement.name)  # type: ignore[attr-defined]
        assert name in pins, f"{requirement.name} is not in requirements/{lock_file}"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{line} vs locked {pins[name]}"


def test_every_pin_in_the_lock_files_has_hashes() -> None:
    for path in LOCKS.glob("*.txt"):
        entries = re.split(r"\n(?=[A-Za-z])", path.read_text().split("\n", 2)[2])
        unhashed = [entry.split()[0] for entry in entries if "==" in entry and "--hash=sha256:" not in entry]
        assert unhashed == [], f"{path.name}: no hashes for {unhashed}"


def seam_imports() -> set[str]:
    """Top-level modules the seam code imports, other than the standard library's and Hearth's."""
    found: set[str] = set()
    for path in SEAM_CODE:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__", "rooms", "signaling", "server"}


def test_every_library_the_seam_reaches_into_is_pinned_exactly_beside_its_guard_test() -> None:
    """Each pin's line in pyproject.toml names the test that fails by name when an upgrade moves an
    internal; the test must exist and name the library. The lock holds the same version."""
    distributions = packages_distributions()
    pyproject_lines = PYPROJECT.read_text().splitlines()
    pins = lock("runtime.txt")
    for module in sorted(seam_imports() - set(PUBLIC_API_ONLY)):
        (distribution,) = distributions[module]
        name = locked.canonical(distribution)  # type: ignore[attr-defined]
        pattern = re.compile(rf'^\s*"{re.escape(distribution)}(\[[^\]]*\])?==([^";]+)",\s*# seam: .*guard: (.+)$', re.I)
        matches = [m for m in map(pattern.match, pyproject_lines) if m]
        assert matches, f"{distribution} ({module}) needs an exact pin with '# seam: ...; guard: tests/...'"
        version, guards = matches[0].group(2), [g.strip() for g in matches[0].group(3).split(",")]
        assert pins[name] == version, f"{distribution}: pyproject pins {version}, the lock has {pins[name]}"
        for guard in guards:
            assert (ROOT / guard).is_file(), f"{distribution}'s guard {guard} does not exist"
            assert module in (ROOT / guard).read_text(), f"{guard} never mentions {module}"
