"""Run the whole-stack media tests on both event loops: ``hearth serve`` installs uvloop, whose
transports differ from asyncio's in ways the media engine touches (e.g. no ``_sock``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every test in this folder runs once per loop, named ``[asyncio]`` and ``[uvloop]``."""
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
