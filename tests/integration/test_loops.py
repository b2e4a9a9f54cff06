"""The loop factories in this folder's conftest run each test on the loop its name says."""

from __future__ import annotations

import asyncio

import pytest


async def test_each_test_here_runs_on_the_loop_its_id_names(request: pytest.FixtureRequest) -> None:
    loop_module = type(asyncio.get_running_loop()).__module__
    if request.node.name.endswith("[uvloop]"):
        assert loop_module.startswith("uvloop")
    else:
        assert request.node.name.endswith("[asyncio]")
        assert loop_module.startswith("asyncio")
