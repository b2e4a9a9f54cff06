"""The compiled packet path under AddressSanitizer and UndefinedBehaviorSanitizer, in every CI run.

``scripts/sanitize.sh`` builds ``_fastpath.c`` with both sanitizers out of tree and runs the media
tests that drive the compiled ``Inlet`` and ``Outlet`` against that build, then the differential
fuzzer for a short while; any sanitizer report aborts the child process, and this test fails.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.media]

ROOT = Path(__file__).resolve().parents[2]
COMPILED_PATH_TESTS = (
    "tests/media/test_inlet.py",
    "tests/media/test_outlet.py",
    "tests/media/test_fastpath.py",
    "tests/media/test_rtcp.py",
    "tests/media/test_inbound.py",
)


def sanitized(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        ["bash", "scripts/sanitize.sh", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )


def test_the_compiled_path_s_tests_pass_under_asan_and_ubsan() -> None:
    run = sanitized(*COMPILED_PATH_TESTS)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "sanitized fast path: " in out, out[-2000:]  # the sanitized module is the one the tests loaded
    assert "ERROR: AddressSanitizer" not in out and "runtime error:" not in out, out[-4000:]


def test_the_differential_fuzzer_finds_nothing_on_the_sanitized_build() -> None:
    run = sanitized("--exec", ".venv/bin/python", "bench/fuzz_fastpath.py", "--seconds", "20")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "findings: 0 distinct" in out, out[-2000:]
