"""A mailbox drained by one task: the way a live session changes, one job at a time, in arrival order.

Why not a lock: an emit can run another client's disconnect handler inside the emitting task
(python-engineio notices a ping timeout in ``send`` and closes the socket right there). Under a lock,
that handler waits for the lock its own caller holds, and the whole session freezes. With a mailbox,
anything that re-enters a session from I/O only ``post``s a job and returns; the job runs after the
current one. Nothing a job awaits waits on a client (python-socketio queues each client's packets).

Each job runs under a deadline and inside its own ``try``: one job's failure is logged with the
mailbox's ids and never stops the jobs behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
Job = Callable[[], Awaitable[Any]]

log = logging.getLogger("hearth.actor")


class Closed(Exception):
    """The mailbox takes no more jobs; ``reason`` is what a caller should be told instead."""

    def __init__(self, reason: Exception) -> None:
        super().__init__(str(reason))
        self.reason = reason


class Mailbox:
    """Jobs run one at a time, in the order they were posted, by one task of this mailbox's own."""

    def __init__(self, name: str, ids: dict[str, str], job_timeout: float) -> None:
        self.name, self.ids, self.job_timeout = name, ids, job_timeout
        self._queue: asyncio.Queue[tuple[Job, asyncio.Future[Any] | None] | None] = asyncio.Queue()
        self._closed: Exception | None = None
        self._task = asyncio.get_running_loop().create_task(self._drain(), name=f"{name}:{ids}")

    @property
    def closed(self) -> Exception | None:
        """Why this mailbox takes no more jobs, or None while it does."""
        return self._closed

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def post(self, job: Job) -> None:
        """Run ``job`` after the jobs already posted; never wait for it (its failure is logged)."""
        if self._closed is None:
            self._queue.put_nowait((job, None))

    async def call(self, job: Callable[[], Awaitable[T]]) -> T:
        """Run ``job`` after the jobs already posted and return its result (or raise its error).

        Never call this from inside a job of the same mailbox: the job would wait for itself.
        """
        if self._closed is not None:
            raise self._closed
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((job, future))
        return await future

    def close(self, reason: Exception, discard_pending: bool = False) -> None:
        """Take no more jobs (callers are told ``reason``); the jobs already posted still run, unless
        ``discard_pending``, when those not started are refused with ``reason``. Safe inside a job."""
        if self._closed is None:
            self._closed = reason
            if discard_pending:
                self._refuse_rest()
            self._queue.put_nowait(None)

    async def finish(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) for the running job to end after ``close``; then stop."""
        self.close(self._closed or Closed(RuntimeError("stopped")))
        done, _ = await asyncio.wait({self._task}, timeout=max(timeout, 0.0))
        if not done:
            log.warning("mailbox stopped mid-job", extra={"mailbox": self.name, **self.ids})
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _drain(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                break
            await self._run(*item)
        self._refuse_rest()

    async def _run(self, job: Job, future: asyncio.Future[Any] | None) -> None:
        try:
            async with asyncio.timeout(self.job_timeout):
                result = await job()
        except asyncio.CancelledError as exc:
            if future is not None and not future.done():
                future.cancel()
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # this mailbox is being stopped
                raise
            # Something the job awaited was cancelled under it: that job's failure, not the mailbox's.
            log.warning("job cancelled", extra={"mailbox": self.name, **self.ids, "error": type(exc).__name__})
            return
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                log.error("job timed out", extra={"mailbox": self.name, **self.ids})
            if future is None:
                log.exception("job failed", extra={"mailbox": self.name, **self.ids})
            elif not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)

    def _refuse_rest(self) -> None:
        reason = self._closed or Closed(RuntimeError("stopped"))
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None and item[1] is not None and not item[1].done():
                item[1].set_exception(reason)
