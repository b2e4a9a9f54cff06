"""A wheel built from this checkout's sdist, and a fresh venv with the locked runtime dependencies.

Built once per run and shared by the wheel tests: the sdist and the compiled wheel come from
``python -m build`` (the wheel is built from the unpacked sdist, so the sdist is proven complete), the
Python-only wheel from the same sdist with ``HEARTH_BUILD_FASTPATH=0``. The venv gets pip and
setuptools from requirements/bootstrap.txt and then requirements/runtime.txt, hash-checked, exactly
as README's "Install from a wheel" says; each test installs its wheel into it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.web.conftest import browser, playwright  # noqa: F401  (the fixtures, for the wheel's page)

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"


def run(*command: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a build or install step; on failure, fail the test with its output."""
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env, cwd=cwd)
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, command))} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout + done.stderr


def clean_env(**extra: str) -> dict[str, str]:
    """This process' environment without anything that would put the checkout on a child's sys.path."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    return {**env, **extra}


@dataclass(frozen=True)
class Dist:
    sdist: Path
    compiled_wheel: Path
    python_wheel: Path


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT, env=clean_env())
    (sdist,) = out.glob("hearth-*.tar.gz")
    (compiled,) = out.glob("hearth-*.whl")
    python_only = tmp_path_factory.mktemp("python-wheel")
    pip_wheel = (sys.executable, "-m", "pip", "wheel", "-qq", "--no-deps", "--no-build-isolation", "-w", python_only)
    run(*pip_wheel, sdist, env=clean_env(HEARTH_BUILD_FASTPATH="0"))
    (python_wheel,) = python_only.glob("hearth-*.whl")
    return Dist(sdist, compiled, python_wheel)


@dataclass(frozen=True)
class Venv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def hearth(self) -> Path:
        return self.path / "bin" / "hearth"

    def install(self, wheel: Path) -> None:
        """Replace whichever Hearth wheel is installed with this one (its dependencies are locked)."""
        run(self.python, "-m", "pip", "install", "-qq", "--no-deps", "--force-reinstall", wheel, env=clean_env())


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    path = tmp_path_factory.mktemp("venv") / "hearth"
    venv.create(path, with_pip=True)
    made = Venv(path)
    for lock in ("bootstrap.txt", "runtime.txt"):
        run(made.python, "-m", "pip", "install", "-qq", "--require-hashes", "-r", LOCKS / lock, env=clean_env())
    yield made
