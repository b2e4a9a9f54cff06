"""What every fault test asserts of the rest of the session, and the faulty parties it needs.

A fault is one member's (or one node's, or the store's): the test injects it into a real server and
checks that everyone else is untouched. ``Heartbeat`` is a member who keeps acting (raising and
lowering a hand every 0.3 s) and records how long each answer took; ``RemoteMember`` is a member in a
process of its own, which a test can freeze or kill as a network or a crash would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness import Client

ROOT = Path(__file__).resolve().parents[2]
PROMPT = 1.0  # seconds: every other member's acks arrive within this while a fault goes on
BEAT = 0.3  # seconds between a heartbeat member's acts


@dataclass
class Heartbeat:
    """A member who raises and lowers a hand every ``BEAT`` seconds and times every answer."""

    client: Client
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> Heartbeat:
        self._task = asyncio.get_running_loop().create_task(self._beat())
        return self

    async def _beat(self) -> None:
        raised = False
        while True:
            event = "hand.lower" if raised else "hand.raise"
            started = time.monotonic()
            try:
                reply = await self.client.sio.call(event, {}, timeout=10)
            except Exception as exc:  # a timeout is exactly what these tests look for
                self.failures.append(f"{event}: {type(exc).__name__}")
            else:
                self.latencies.append(time.monotonic() - started)
                if not reply.get("ok"):
                    self.failures.append(f"{event}: {reply.get('error')}")
                raised = not raised
            await asyncio.sleep(BEAT)

    async def stop(self, after: int = 3) -> None:
        """Stop once ``after`` more acts were answered (so the window after the fault is covered too)."""
        wanted = len(self.latencies) + len(self.failures) + after
        async with asyncio.timeout(after * (BEAT + 10)):
            while len(self.latencies) + len(self.failures) < wanted:
                await asyncio.sleep(BEAT / 3)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def assert_prompt(self, limit: float = PROMPT, at_least: int = 3) -> None:
        """Every act was answered ``ok`` within ``limit`` seconds, and there were enough of them to say so."""
        assert not self.failures, self.failures
        assert len(self.latencies) >= at_least, self.latencies
        assert max(self.latencies) < limit, sorted(self.latencies)[-5:]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class RemoteMember:
    """``tests/faults/remote_member.py`` in its own process, with every line it printed."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, url: str, token: str) -> RemoteMember:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.faults.remote_member",
            url,
            token,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        member = cls(process)
        await member.saw("welcome")
        return member

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.lines.append(line.decode().strip())

    async def saw(self, prefix: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until it has printed ``count`` lines starting with ``prefix``."""
        async with asyncio.timeout(timeout):
            while sum(line.startswith(prefix) for line in self.lines) < count:
                if self.process.returncode is not None:
                    raise AssertionError(f"remote member exited: {self.lines}")
                await asyncio.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP: a phone in a tunnel, a lid shut. Its socket stays open and silent."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: a crash. The kernel closes its socket."""
        self.process.kill()

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def participant(state: dict[str, Any], pid: str) -> dict[str, Any] | None:
    return next((p for p in state["participants"] if p["id"] == pid), None)


async def ends_for_everyone(facilitator: Client, others: list[Client]) -> None:
    """The facilitator can still end the session, and everyone still connected hears it."""
    reply = await facilitator.ask("end")
    assert reply["ok"], reply
    for client in [facilitator, *others]:
        await client.wait_for("session.ended", timeout=5)
