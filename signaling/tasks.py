"""Fire-and-forget tasks that stay referenced until they finish (asyncio keeps only weak references)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


class Background:
    """Tasks nobody awaits, kept until they finish; ``drain`` waits for them (and any they start)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    def start(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Until none is left: a task may start another as it finishes. Their exceptions are theirs."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
