"""The web client type-checks: ``tsc --checkJs`` over every page module and the e2ee worker (#17).

The client is plain ES modules with no build step; TypeScript (a locked devDependency in
``web/package.json``) reads their JSDoc and checks them without emitting anything. The page's modules
are checked against the DOM (``web/tsconfig.json``), the frame worker against the worker's globals
(``web/tsconfig.worker.json``): one program could not hold both; the files that already type every
parameter are checked with ``noImplicitAny`` too (``web/tsconfig.strict.json``). Which checks are
on, and why, is said in ``web/README.md``. A missing ``node`` or TypeScript fails the test: run ``scripts/setup.sh``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.web.hearth_process import ROOT

TSC = ROOT / "web" / "node_modules" / "typescript" / "bin" / "tsc"


@pytest.mark.parametrize("project", ["web", "web/tsconfig.worker.json"])
def test_the_web_client_type_checks_without_an_error(project: str) -> None:
    node = shutil.which("node")
    assert node, "node is needed to type-check the web client (apt-get install -y nodejs)"
    assert TSC.is_file(), f"{TSC} is missing: run `npm ci` in web/ (scripts/setup.sh does)"
    result = subprocess.run(
        [node, str(TSC), "-p", project, "--pretty", "false"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


STRICT = ROOT / "web" / "tsconfig.strict.json"
# "web/ui/state.js(12,5): error TS7006: ..." with --pretty false; a project-wide error has no file.
DIAGNOSTIC = re.compile(r"^(?P<file>[^\s(]+)\(\d+,\d+\): error ")


def strict_files() -> list[str]:
    """The files `web/tsconfig.strict.json` claims, as paths from the repository's root."""
    text = re.sub(r"^\s*//.*$", "", STRICT.read_text(), flags=re.MULTILINE)  # tsconfig allows comments
    return [f"web/{path}" for path in json.loads(text)["include"]]


def test_the_files_claimed_strict_type_check_with_no_implicit_any() -> None:
    """noImplicitAny, file by file (#17): ``web/tsconfig.strict.json`` lists the files whose every
    parameter has a type. Its program also reaches the files they import, which may not be there yet:
    only what is found in a listed file (or in no file) counts."""
    node = shutil.which("node")
    assert node, "node is needed to type-check the web client (apt-get install -y nodejs)"
    assert TSC.is_file(), f"{TSC} is missing: run `npm ci` in web/ (scripts/setup.sh does)"
    claimed = strict_files()
    missing = [path for path in claimed if not (ROOT / path).is_file()]
    assert claimed and not missing, f"tsconfig.strict.json lists files that are not there: {missing}"
    result = subprocess.run(
        [node, str(TSC), "-p", str(STRICT.relative_to(ROOT)), "--pretty", "false"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("error") or ((m := DIAGNOSTIC.match(line)) and m["file"] in claimed)
    ]
    assert not found, "\n".join(found)[-6000:] + result.stderr[-2000:]
