"""Building from the sdist: a Socket.IO bundle that is not the locked one stops the build; a machine
without a C compiler still gets a wheel (the Python path forwards)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.install.conftest import Dist, clean_env, run

pytestmark = pytest.mark.slow


def unpacked(dist: Dist, into: Path) -> Path:
    with tarfile.open(dist.sdist) as archive:
        archive.extractall(into, filter="data")
    (source,) = into.glob("hearth-*")
    return source


def test_a_socketio_bundle_other_than_the_locked_one_fails_the_build_loudly(dist: Dist, tmp_path: Path) -> None:
    source = unpacked(dist, tmp_path)
    manifest = source / "web" / "node_modules" / "socket.io-client" / "package.json"
    package = json.loads(manifest.read_text())
    locked = package["version"]
    manifest.write_text(json.dumps({**package, "version": "4.0.0"}))
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp_path / "out", source]
    failed = subprocess.run(build, capture_output=True, text=True, env=clean_env())
    assert failed.returncode != 0
    assert f"socket.io-client is 4.0.0, web/package-lock.json locks {locked}: run `npm ci`" in failed.stderr
    assert not list((tmp_path / "out").glob("*.whl"))


def test_without_a_c_compiler_the_wheel_builds_without_the_fast_path(dist: Dist, tmp_path: Path) -> None:
    source = unpacked(dist, tmp_path)
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp_path / "out", source]
    output = run(*build, env=clean_env(CC="/bin/false"))
    assert "_fastpath.c not compiled" in output and "forwarding will use the Python path" in output
    (wheel,) = (tmp_path / "out").glob("hearth-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "server/web/index.html" in names
    assert not any(name.endswith(".so") for name in names)
