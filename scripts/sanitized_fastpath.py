"""A pytest plugin for ``scripts/sanitize.sh``: the tests import the sanitized ``_fastpath``, provably.

``server.media._fastpath`` normally resolves to the module ``pip install -e .`` built in place. This
plugin puts a finder first on ``sys.meta_path`` that answers that one name with the file
``HEARTH_SANITIZED_FASTPATH`` names (built with ``-fsanitize=address,undefined``), before any test or
conftest imports it. At session start it imports the module, fails the run unless the file loaded is
that build and AddressSanitizer's runtime is in the process, and prints the file, so a run's log says
which module its tests exercised.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

NAME = "server.media._fastpath"
BUILD = os.path.realpath(os.environ["HEARTH_SANITIZED_FASTPATH"])


class SanitizedFastpath:
    """Finds ``server.media._fastpath`` at the sanitized build and nothing else."""

    @staticmethod
    def find_spec(name: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> ModuleSpec | None:
        if name != NAME:
            return None
        loader = importlib.machinery.ExtensionFileLoader(name, BUILD)
        return importlib.util.spec_from_file_location(name, BUILD, loader=loader)


if NAME in sys.modules:
    raise RuntimeError(f"{NAME} was imported before the sanitized build could be put in its place")
sys.meta_path.insert(0, SanitizedFastpath())


def pytest_sessionstart(session: Any) -> None:
    from server.media.seam import compiled

    module = compiled.BUILT
    loaded = os.path.realpath(getattr(module, "__file__", "") or "")
    if loaded != BUILD:
        raise RuntimeError(f"the tests would run {loaded or 'no compiled module'}, not the sanitized {BUILD}")
    with open("/proc/self/maps") as maps:
        if "libasan" not in maps.read():
            raise RuntimeError("AddressSanitizer's runtime is not loaded (LD_PRELOAD it)")
    print(f"\nsanitized fast path: {loaded}", flush=True)
