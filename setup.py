"""The two build steps pyproject.toml cannot declare: the optional C module and the browser client.

- ``server/media/_fastpath.c`` (the compiled packet path) is built where a C compiler works. Where none
  does, or with ``HEARTH_BUILD_FASTPATH=0``, the build goes on without it and the server forwards through
  the Python path (same rules, slower); ``/readyz`` and the startup line say which path runs.
- The wheel carries the browser client as ``server/web/``: the files ``server.webclient`` serves, copied
  from ``web/``, and the Socket.IO client's browser bundle from ``web/node_modules``, which must be the
  version ``web/package-lock.json`` locks (the build fails loudly otherwise). An editable install skips
  the copy: a checkout serves ``web/`` itself.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

ROOT = Path(__file__).resolve().parent
FASTPATH = Extension(
    "server.media._fastpath",
    sources=["server/media/_fastpath.c"],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
)
COMPILER_FAILURES = (CCompilerError, CompileError, ExecError, LinkError, PlatformError)


def _webclient() -> Any:
    """server/webclient.py by path: the build environment has none of the server's dependencies."""
    spec = importlib.util.spec_from_file_location("hearth_build_webclient", ROOT / "server" / "webclient.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks the module up while building WebClient
    spec.loader.exec_module(module)
    return module


class OptionalBuildExt(build_ext):
    """Compile the fast path if this machine can; otherwise say so and leave the Python path to do the work."""

    def run(self) -> None:
        try:
            super().run()
        except COMPILER_FAILURES as exc:
            self._skipped(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except COMPILER_FAILURES as exc:
            self._skipped(exc)

    @staticmethod
    def _skipped(exc: Exception) -> None:
        print(
            f"hearth: server/media/_fastpath.c not compiled ({exc}); forwarding will use the Python path",
            file=sys.stderr,
        )


class BuildPyWithClient(build_py):
    """Also copy the browser client and the checked Socket.IO bundle into the build as server/web/."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        webclient = _webclient()
        source = ROOT / "web"
        target = Path(self.build_lib) / "server" / "web"
        shutil.rmtree(target, ignore_errors=True)
        try:
            vendor = webclient.checked_vendor_files(source)
        except webclient.VendorMismatch as exc:
            raise SystemExit(f"hearth build: {exc}") from None
        copies = [(source / relative, target / relative) for relative in webclient.served_files(source)]
        copies += [(path, target / webclient.PACKAGED_VENDOR / path.name) for path in vendor]
        for origin, destination in copies:
            self.mkpath(str(destination.parent))
            self.copy_file(str(origin), str(destination), preserve_mode=False)


setup(
    ext_modules=[] if os.environ.get("HEARTH_BUILD_FASTPATH", "1") == "0" else [FASTPATH],
    cmdclass={"build_ext": OptionalBuildExt, "build_py": BuildPyWithClient},
)
