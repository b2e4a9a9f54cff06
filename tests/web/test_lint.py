"""The web client lints clean: ESLint (``web/eslint.config.js``, ``@eslint/js`` recommended) over every
module, the frame worker and the unit tests in ``web/`` (#17).

ESLint is a locked devDependency in ``web/package.json``; the config says which globals each file
has (a page's, a worker's, Node's). A missing ``node`` or ESLint fails the test: run
``scripts/setup.sh``.
"""

from __future__ import annotations

import shutil
import subprocess

from tests.web.hearth_process import ROOT

ESLINT = ROOT / "web" / "node_modules" / "eslint" / "bin" / "eslint.js"


def test_the_web_client_lints_without_a_finding() -> None:
    node = shutil.which("node")
    assert node, "node is needed to lint the web client (apt-get install -y nodejs)"
    assert ESLINT.is_file(), f"{ESLINT} is missing: run `npm ci` in web/ (scripts/setup.sh does)"
    result = subprocess.run(
        [node, str(ESLINT), "--max-warnings", "0", "."],
        cwd=ROOT / "web",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
