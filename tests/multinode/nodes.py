"""Real Hearth nodes as separate processes sharing one Redis, and clients that follow a session.

A ``Node`` is ``python -m server serve --redis-url ...`` on a free port; ``kill()`` is SIGKILL, so a
node dies the way a crashed machine does: no goodbye, its leases simply lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from tests.harness import EVENTS, OPERATOR_KEY, free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "multinode-secret-" + "y" * 32


class ServeProcess:
    """``python -m server serve`` on a free port with ``flags`` (after ``--port``), its output in a log file."""

    def __init__(self, *flags: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "server", "serve", "--port", str(self.port), *flags]
        self.log = open(f"/tmp/hearth-node-{self.port}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )

    async def ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"node exited: {Path(self.log.name).read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/readyz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError("node did not become ready")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


class Node(ServeProcess):
    """A node on the shared Redis, without media."""

    def __init__(self, redis_url: str, prefix: str, lease_ttl: float | None = 2.0, *extra: str) -> None:
        """``lease_ttl=None`` runs the node on the default lease; ``extra`` are more ``serve`` flags."""
        super().__init__(
            "--secret",
            SECRET,
            "--operator-key",
            OPERATOR_KEY,
            "--redis-url",
            redis_url,
            "--redis-prefix",
            prefix,
            *(["--lease-ttl", str(lease_ttl)] if lease_ttl is not None else []),
            "--no-media",
            "--log-text",
            *extra,
        )


async def api(method: str, url: str, token: str = OPERATOR_KEY, **body: Any) -> tuple[int, Any]:
    """One API call; a node that does not answer within 2 s (frozen, partitioned) is an error."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as http,
        http.request(method, url, json=body or None, headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        return r.status, await r.json()


async def _discard(sio: socketio.AsyncClient) -> None:
    """Close what a failed connection attempt leaves open (its HTTP session)."""
    with contextlib.suppress(Exception):
        await sio.shutdown()
    http = getattr(sio.eio, "http", None)
    if http is not None and not http.closed:
        await http.close()


@dataclass
class Follower:
    """A client that finds the node holding its session (``/where``) and follows it after a failover.

    This is what the web client does: ask any known node where the session lives, connect there,
    and on a drop or a ``moved`` refusal ask again.
    """

    token: str
    nodes: list[str]
    received: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    sio: socketio.AsyncClient | None = None
    url: str = ""
    id: str = ""
    reconnects: int = 0
    refusals: list[dict[str, Any]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _closing: bool = False

    async def where(self) -> str:
        for node in self.nodes:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                status, body = await api("GET", f"{node}/api/sessions/{self.session_id}/where", self.token)
                if status == 200:
                    return str(body["url"])
        raise ConnectionError("no node answered /where")

    @property
    def session_id(self) -> str:
        import jwt

        return str(jwt.decode(self.token, options={"verify_signature": False})["sid"])

    async def connect(self, url: str | None = None, hops: int = 2) -> None:
        target = url or await self.where()
        welcomes = len(self.received["welcome"])
        sio = socketio.AsyncClient(reconnection=False)
        for name in (*EVENTS, "connect_error"):
            sio.on(name, self._recorder(name))
        sio.on("disconnect", self._dropped)
        try:
            await sio.connect(target, auth={"token": self.token}, transports=["websocket"], wait_timeout=5)
        except socketio.exceptions.ConnectionError:
            await _discard(sio)
            refusal = (self.received["connect_error"] or [{}])[-1].get("data") or {}
            self.refusals.append(refusal)
            if refusal.get("code") == "moved" and refusal.get("url") and hops > 0:
                await self.connect(refusal["url"], hops - 1)
                return
            raise
        self.sio, self.url = sio, target
        welcome = await self.wait_for("welcome", lambda w: True, since=welcomes)
        self.id = welcome["you"]["id"]

    def _recorder(self, name: str) -> Any:
        async def record(data: Any = None) -> None:
            self.received[name].append(data)

        return record

    async def _dropped(self, *args: Any) -> None:
        if not self._closing and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def _follow(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._closing and time.monotonic() < deadline:
            try:
                await self.connect()
                self.reconnects += 1
                return
            except Exception:
                await asyncio.sleep(0.2)

    async def ask(self, event: str, data: Any = None) -> dict[str, Any]:
        assert self.sio is not None
        reply: dict[str, Any] = await self.sio.call(event, data if data is not None else {}, timeout=10)
        return reply

    async def wait_for(self, event: str, predicate: Any, timeout: float = 10.0, since: int = 0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.received[event][max(0, since) :]:
                if predicate(item):
                    return item
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching {event} within {timeout}s")

    async def close(self) -> None:
        self._closing = True
        if self.sio is not None:
            with contextlib.suppress(Exception):
                await self.sio.disconnect()
