"""Test harness: start a real Hearth node in-process and drive it with real python-socketio clients.

Nothing here fakes the server: the app is the one ``hearth serve`` runs, bound to a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio
from aiohttp import web

from server.app import create_app
from server.config import Settings
from signaling import protocol as wire

OPERATOR_KEY = "test-operator-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Client:
    """One participant's Socket.IO connection, recording every event it receives."""

    sio: socketio.AsyncClient
    received: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    id: str = ""

    async def ask(self, event: str, data: Any = None) -> dict[str, Any]:
        args = {} if data is None else data
        reply: dict[str, Any] = await self.sio.call(event, args, timeout=10)
        return reply

    def last(self, event: str) -> Any:
        return self.received[event][-1] if self.received[event] else None

    async def wait_for(self, event: str, predicate: Any = None, timeout: float = 5.0, since: int = 0) -> Any:
        """Wait until an event arrives (matching ``predicate`` if given); return its payload.

        ``since`` skips the first events of that name already received (see ``count``).
        """
        deadline = asyncio.get_running_loop().time() + timeout
        seen = since
        while True:
            items = self.received[event]
            for item in items[seen:]:
                if predicate is None or predicate(item):
                    return item
            seen = len(items)
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no matching {event!r} within {timeout}s")
            await asyncio.sleep(0.01)

    async def state(self, predicate: Any, timeout: float = 5.0, since: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = await self.wait_for("session.state", predicate, timeout, since)
        return result

    async def caught_up(self) -> None:
        """Everything the server sent this client before now has arrived: one round trip on this socket.

        The server emits before it answers the request that caused the emits, and python-socketio sends
        a client's packets in the order they were queued, so the answer to a request made now comes
        after any event already queued for this client. The request is one the server refuses at once
        (an unknown event) and that changes nothing. Tests assert that an event did NOT reach someone
        after this, instead of after a fixed sleep.
        """
        reply = await self.ask("caught-up?")
        assert "error" in reply, reply

    def count(self, event: str) -> int:
        """How many events of this name arrived so far: pass it as ``since`` to wait for newer ones."""
        return len(self.received[event])

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
        http = getattr(self.sio.eio, "http", None)  # a refused connect leaves engineio's session open
        if http is not None and not http.closed:
            await http.close()


EVENTS = tuple(wire.SERVER_EVENTS)  # a client records every event the server may send


@dataclass
class Harness:
    url: str
    app: web.Application
    http: aiohttp.ClientSession
    clients: list[Client] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {OPERATOR_KEY}"}

    async def create_session(self, **body: Any) -> dict[str, Any]:
        body.setdefault("title", "Tuesday group")
        async with self.http.post(f"{self.url}/api/sessions", json=body, headers=self.auth) as r:
            assert r.status == 201, await r.text()
            data: dict[str, Any] = await r.json()
            return data

    async def invite(self, session_id: str, name: str, role: str = "member") -> dict[str, Any]:
        async with self.http.post(
            f"{self.url}/api/sessions/{session_id}/invites", json={"name": name, "role": role}, headers=self.auth
        ) as r:
            assert r.status == 201, await r.text()
            data: dict[str, Any] = await r.json()
            return data

    async def connect(self, token: str, wait_welcome: bool = True, *, e2ee: object = None) -> Client:
        """``e2ee``: the ``auth.e2ee`` this client sends (None: none, as an outside client)."""
        sio = socketio.AsyncClient(reconnection=False)
        client = Client(sio)
        for name in (*EVENTS, "connect_error"):
            sio.on(name, _recorder(client, name))
        auth = {"token": token} if e2ee is None else {"token": token, "e2ee": e2ee}
        try:
            await sio.connect(self.url, auth=auth, transports=["websocket"], wait_timeout=5)
        except socketio.exceptions.ConnectionError as err:
            refusal = client.last("connect_error") or {}
            await client.close()
            raise Refused(refusal.get("data") or {}) from err
        self.clients.append(client)
        if wait_welcome:
            welcome = await client.wait_for("welcome")
            client.id = welcome["you"]["id"]
        return client

    async def join(self, session_id: str, name: str, role: str = "member", *, e2ee: object = None) -> Client:
        invite = await self.invite(session_id, name, role)
        return await self.connect(invite["token"], e2ee=e2ee)


class Refused(Exception):
    """The server refused the connection; ``data`` is its ``{code, message[, url]}``."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(f"refused: {data}")
        self.data = data


def _recorder(client: Client, name: str) -> Any:
    async def record(data: Any = None) -> None:
        client.received[name].append(data)

    return record


def test_settings(**overrides: Any) -> Settings:
    port = free_port()
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "secret": "test-secret-" + "x" * 32,
        "operator_key": OPERATOR_KEY,
        "log_json": False,
        "tick_seconds": 0.05,
    }
    values.update(overrides)
    return Settings(**values).finish()


@contextlib.asynccontextmanager
async def running_server(**overrides: Any) -> AsyncIterator[Harness]:
    settings = test_settings(**overrides)
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    http = aiohttp.ClientSession()
    harness = Harness(settings.public_url, app, http)
    try:
        yield harness
    finally:
        for client in harness.clients:
            await client.close()
        await http.close()
        await runner.cleanup()
