"""Shared fixtures: real servers on free loopback ports, real Socket.IO clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.harness import Harness, running_server


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Harness]:
    """A whole Hearth node (memory store, signaling only) on a free loopback port."""
    async with running_server(media=False) as harness:
        yield harness
