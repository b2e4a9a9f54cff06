"""The README's map of where each rule of the session lives stays true (#17).

Every module the map names exists, and every module that holds a rule the controller dispatches to
(``controller.RULES``, plus connect, disconnect, publishing and speaking time) is on the map: a new
rule module, or a rule moved, fails here until the README says where it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from rooms import controller, lobby, media_keys, signals

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def mapped_modules() -> set[str]:
    """The ``rooms/*.py`` paths the README's "rule | module" table names."""
    lines = README.read_text().splitlines()
    start = lines.index("| rule | module |")
    table = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        table.append(line)
    assert table, "the README's rule map is empty"
    return {path for line in table for path in re.findall(r"`(rooms/[a-z_]+\.py)`", line)}


def module_path(function: Callable[..., object]) -> str:
    return str(Path(*function.__module__.split("."))) + ".py"


def test_every_module_on_the_readme_s_rule_map_exists() -> None:
    for path in mapped_modules():
        assert (ROOT / path).is_file(), f"README's rule map names {path}, which does not exist"


def test_every_module_holding_a_dispatched_rule_is_on_the_map() -> None:
    rules = [rule for _, rule in controller.RULES.values()]
    rules += [lobby.connect, lobby.disconnect, signals.set_publishing, signals.record_speaking, controller.tick]
    rules += [media_keys.key_holder, media_keys.check_grant]  # signaling.key_relay asks these directly
    homes = {module_path(rule) for rule in rules}
    missing = homes - mapped_modules()
    assert not missing, f"rules live in {sorted(missing)}, which README's rule map does not name"
