"""The page's pure functions (SDP grouping, speaking shares, formats, safety plans) and the client's moves,
through Node's test runner."""

from __future__ import annotations

import shutil
import subprocess

from tests.web.hearth_process import ROOT


def test_web_unit_tests_pass_in_node() -> None:
    node = shutil.which("node")
    assert node, "node is needed for the web unit tests (apt-get install -y nodejs)"
    result = subprocess.run(
        [node, "--test", "web/test/"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
