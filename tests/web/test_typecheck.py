"""The web client type-checks: ``tsc --checkJs`` over every page module and the e2ee worker (#17).

The client is plain ES modules with no build step; TypeScript (a locked devDependency in
``web/package.json``) reads their JSDoc and checks them without emitting anything. The page's modules
are checked against the DOM (``web/tsconfig.json``), the frame worker against the worker's globals
(``web/tsconfig.worker.json``): one program could not hold both. Both are ``strict`` with
``noImplicitAny``: every parameter has a type. Which checks are on, and why, is said in
``web/README.md``. A missing ``node`` or TypeScript fails the test: run ``scripts/setup.sh``.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.web.hearth_process import ROOT

TSC = ROOT / "web" / "node_modules" / "typescript" / "bin" / "tsc"
PROJECTS = ["web", "web/tsconfig.worker.json"]


def tsc(project: str, *args: str) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is needed to type-check the web client (apt-get install -y nodejs)"
    assert TSC.is_file(), f"{TSC} is missing: run `npm ci` in web/ (scripts/setup.sh does)"
    return subprocess.run(
        [node, str(TSC), "-p", project, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("project", PROJECTS)
def test_the_web_client_type_checks_without_an_error(project: str) -> None:
    result = tsc(project, "--pretty", "false")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


@pytest.mark.parametrize("project", PROJECTS)
def test_every_parameter_of_the_web_client_has_a_type(project: str) -> None:
    """noImplicitAny (#17), in the options each project resolves to: a parameter without a JSDoc
    type is an error, not a silent ``any``, in every page module and in the worker."""
    result = tsc(project, "--showConfig")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    options = json.loads(result.stdout)["compilerOptions"]
    assert options.get("strict") is True, options
    assert options.get("noImplicitAny", True) is True, options
