"""The whole media suite again on the Python packet path, in every CI run.

The compiled path (``_fastpath.c``) forwards whenever it is built, so the rest of ``tests/media`` runs
on it; the Python path (``--python-forwarding``, ``HEARTH_COMPILED_FORWARDING=0``, and what runs where
the module cannot be built) must forward, repair and switch layers the same way. The media package
reads the switch when it is first imported, so the suite runs in a child process with it off.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.media]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).relative_to(ROOT)
# Not again: the sanitized build is the compiled path's own test; the Chromium publisher is a browser test.
ELSEWHERE = (HERE, Path("tests/media/test_sanitized_build.py"), Path("tests/media/test_simulcast_chromium.py"))


def test_the_media_suite_passes_on_the_python_packet_path() -> None:
    env = {**os.environ, "HEARTH_COMPILED_FORWARDING": "0", "PYTHONUNBUFFERED": "1"}
    ignored = [f"--ignore={path}" for path in ELSEWHERE]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/media", *ignored],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    assert " passed" in out and " failed" not in out, out[-2000:]
