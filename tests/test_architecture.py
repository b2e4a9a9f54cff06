"""The house's rules hold, and the checker that says so cannot be talked round (``tests/architecture.py``).

Each probe is a trick that a line scan of ``import`` statements let through (a ``rooms/`` module with
``from .. import server``, ``importlib.import_module("time")`` and ``open(...)`` passed all 42 of the
old tests): it is planted in a tree, the check must fail on it by the right rule, and once it is
removed the same tree passes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.architecture import PACKAGES, ROOT, Breach, check

SYNTHETIC = {
    "rooms/__init__.py": "",
    "rooms/model.py": "from __future__ import annotations\n\nimport dataclasses\nfrom . import errors\n",
    "rooms/errors.py": "class Invalid(Exception):\n    pass\n",
    "signaling/__init__.py": "",
    "signaling/hub.py": "from rooms import model\nfrom . import protocol\n",
    "signaling/protocol.py": "",
    "server/__init__.py": "",
    "server/app.py": "import time\n\nimport signaling.hub\nfrom .media import engine\n",
    "server/media/__init__.py": "",
    "server/media/engine.py": "import aiortc\n\nfrom .seam import send\n",
    "server/media/seam/__init__.py": "",
    "server/media/seam/send.py": "def lean(sender):\n    return sender._track, getattr(sender, '_run_rtcp')\n",
}

# (module, planted code, the rule that must catch it)
PROBES = [
    # relative imports, resolved to absolute names
    ("rooms/model.py", "from .. import server", "direction"),
    ("rooms/model.py", "from ..signaling import hub", "direction"),
    ("rooms/model.py", "from ... import anything", "dynamic-import"),
    ("signaling/hub.py", "from .. import server", "direction"),
    ("signaling/hub.py", "from ..server.media import engine", "direction"),
    ("signaling/protocol.py", "from ..server import app", "direction"),
    # dynamic imports
    ("rooms/model.py", "import importlib\nclock = importlib.import_module('time')", "purity"),
    ("rooms/model.py", "from importlib import import_module as load\nload('os')", "purity"),
    ("rooms/model.py", "now = __import__('datetime').datetime.now", "purity"),
    ("signaling/hub.py", "import importlib\nimportlib.import_module('server.app')", "direction"),
    ("signaling/hub.py", "import importlib\nimportlib.import_module('..server', __package__)", "direction"),
    ("signaling/hub.py", "__import__('server', globals(), None, [], 2)", "direction"),
    ("signaling/hub.py", "import sys\napp = sys.modules['server.app']", "direction"),
    ("signaling/hub.py", "import importlib\nname = 'ser' + 'ver'\nimportlib.import_module(name)", "dynamic-import"),
    ("signaling/hub.py", "import importlib\nload = importlib.import_module", "dynamic-import"),
    ("signaling/hub.py", "import importlib\nload = getattr(importlib, 'import_module')", "dynamic-import"),
    ("signaling/hub.py", "exec('import server')", "dynamic-import"),
    ("signaling/hub.py", "import sys\napp = sys.modules.get('server.app')", "direction"),
    ("signaling/hub.py", "import sys\nmodules = sys.modules", "dynamic-import"),
    ("signaling/hub.py", "app = __builtins__.__import__('server.app')", "direction"),
    ("signaling/hub.py", "load = __builtins__['__import__']", "dynamic-import"),
    ("signaling/hub.py", "import sys\nload = getattr(sys, 'modules')", "dynamic-import"),
    ("signaling/hub.py", "from importlib import *", "dynamic-import"),
    ("server/app.py", "import importlib\nimportlib.import_module('aiortc')", "direction"),
    ("server/app.py", "from importlib import util\nutil.find_spec('aiortc')", "direction"),
    ("server/app.py", "from importlib import util\nutil.spec_from_file_location('x', 'x.py')", "dynamic-import"),
    ("rooms/model.py", "import bench.media_bench", "direction"),
    # I/O, clocks and entropy in rooms
    ("rooms/model.py", "data = open('/etc/passwd').read()", "purity"),
    ("rooms/model.py", "read = open", "purity"),
    ("rooms/model.py", "print('joined')", "purity"),
    ("rooms/model.py", "answer = input()", "purity"),
    ("rooms/model.py", "import time", "purity"),
    ("rooms/model.py", "from datetime import datetime\nstamp = datetime.now()", "purity"),
    ("rooms/model.py", "import random", "purity"),
    ("rooms/model.py", "import socket", "purity"),
    ("rooms/model.py", "import asyncio", "purity"),
    ("rooms/model.py", "import os.path", "purity"),
    ("rooms/model.py", "from pathlib import Path\ntext = Path('x').read_text()", "purity"),
    ("rooms/model.py", "import logging", "purity"),
    ("rooms/model.py", "import pydantic", "purity"),
    ("rooms/model.py", "reach = __builtins__['open']", "purity"),
    # an async port (a store, a gateway) in the domain
    ("rooms/model.py", "class Store:\n    async def load(self, key):\n        ...", "purity"),
    ("rooms/model.py", "def later(loop):\n    return [x async for x in loop]", "purity"),
    ("rooms/model.py", "reach = globals()['__builtins__']", "purity"),
    ("rooms/model.py", "escape = ().__class__.__base__.__subclasses__()", "purity"),
    ("rooms/model.py", "escape = getattr(len, '__self__')\nopener = getattr(escape, 'open')", "purity"),
    # library internals outside server/media/seam/
    ("server/media/engine.py", "def f(pc):\n    return pc._sctp", "private"),
    ("server/media/engine.py", "class P:\n    def f(self):\n        return self._pc._dtls", "private"),
    ("server/media/engine.py", "def f(t):\n    t._queue = None", "private"),
    ("server/media/engine.py", "def f(t):\n    return getattr(t, '_queue')", "private"),
    ("server/media/engine.py", "def f(t):\n    setattr(t, '_run_rtcp', None)", "private"),
    ("server/media/engine.py", "def f(t, name):\n    return getattr(t, name)", "private"),
    ("server/media/engine.py", "def f(t):\n    return t.__dict__['_queue']", "private"),
    ("server/media/engine.py", "def f(t):\n    return vars(t)['_queue']", "private"),
    ("server/media/engine.py", "def f(t):\n    return object.__getattribute__(t, '_queue')", "private"),
    ("server/media/engine.py", "from operator import attrgetter\nqueue = attrgetter('_queue')", "private"),
    ("server/media/engine.py", "from pylibsrtp._binding import lib", "private"),
    ("server/media/engine.py", "from aiortc.rtcrtpsender import _something", "private"),
    ("signaling/hub.py", "def f(server):\n    return server._send_eio_packet", "private"),
]


def plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def rules(breaches: list[Breach]) -> set[str]:
    return {breach.rule for breach in breaches}


def test_the_real_tree_keeps_every_rule() -> None:
    breaches = check(ROOT)
    assert not breaches, "\n".join(map(str, breaches))


def test_the_synthetic_tree_is_clean_before_a_probe(tmp_path: Path) -> None:
    assert check(plant(tmp_path, SYNTHETIC)) == []


@pytest.mark.parametrize(("module", "code", "rule"), PROBES, ids=[f"{m}:{c.splitlines()[-1]}" for m, c, _ in PROBES])
def test_a_planted_probe_fails_the_check(tmp_path: Path, module: str, code: str, rule: str) -> None:
    root = plant(tmp_path, SYNTHETIC)
    plant(root, {module: SYNTHETIC[module] + code + "\n"})
    breaches = check(root)
    assert rule in rules(breaches), f"{code!r} in {module} passed: {breaches}"
    assert {b.path for b in breaches} == {module}
    plant(root, {module: SYNTHETIC[module]})
    assert check(root) == []


def test_seam_may_read_library_internals_and_only_seam(tmp_path: Path) -> None:
    root = plant(tmp_path, SYNTHETIC)
    assert check(root) == []  # seam/send.py reads sender._track and getattr(sender, '_run_rtcp')
    plant(root, {"server/media/peers.py": SYNTHETIC["server/media/seam/send.py"]})
    assert [(b.path, b.rule) for b in check(root)] == [("server/media/peers.py", "private")] * 2


@pytest.fixture(scope="module")
def real_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("house")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__"))
    return root


@pytest.mark.parametrize(
    "probe",
    ["from .. import server", "import importlib\nclock = importlib.import_module('time')", "open('notes.txt', 'w')"],
    ids=["relative import", "dynamic import", "open"],
)
def test_the_issue_probes_in_a_copy_of_rooms_fail_then_pass_once_removed(real_copy: Path, probe: str) -> None:
    model = real_copy / "rooms" / "model.py"
    original = model.read_text()
    assert check(real_copy) == []
    model.write_text(original + "\n\n" + probe + "\n")
    try:
        breaches = check(real_copy)
    finally:
        model.write_text(original)
    assert breaches and {b.path for b in breaches} == {"rooms/model.py"}, breaches
    assert check(real_copy) == []
