"""What a session says never reaches Redis, with several nodes: notes, help and safety plans stay on
the node that holds the session (emits never cross a message bus), and the store keeps none of them.

Redis' MONITOR shows every command any client sends it, pub/sub included: the test watches all of it
while two nodes share one Redis and a whole session with notes, help and a safety plan runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket

import pytest

from tests.hardening.test_privacy import NOTES, PLAN, whole_session
from tests.harness import running_server
from tests.redis_server import PrivateRedis

pytestmark = pytest.mark.redis


class Monitor:
    """A raw MONITOR connection: every command Redis receives, as the bytes Redis prints for it."""

    def __init__(self, port: int) -> None:
        self.seen = bytearray()
        self._port = port
        self._arrived = asyncio.Event()
        self._sock = socket.create_connection(("127.0.0.1", port))
        self._sock.sendall(b"MONITOR\r\n")
        self._sock.setblocking(False)
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            chunk = await loop.sock_recv(self._sock, 65536)
            if not chunk:
                return
            self.seen += chunk
            self._arrived.set()

    async def close(self) -> bytes:
        # MONITOR prints commands in the order Redis runs them: once a marker sent now is printed, every
        # command the nodes sent before it has been too.
        marker = b"hearth-monitor-end-" + os.urandom(6).hex().encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
        writer.write(b"ECHO " + marker + b"\r\n")
        await reader.readline()
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(5):
            while marker not in self.seen:
                self._arrived.clear()
                await self._arrived.wait()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._sock.close()
        return bytes(self.seen)


async def test_notes_help_and_safety_plans_never_reach_redis_with_two_nodes() -> None:
    with PrivateRedis() as redis:
        monitor = Monitor(redis.port)
        async with (
            running_server(media=False, redis_url=redis.url) as holder,
            running_server(media=False, redis_url=redis.url) as other,
        ):
            session_id, _, clients = await whole_session(holder)
            async with other.http.get(f"{other.url}/api/sessions/{session_id}/where", headers=other.auth) as r:
                assert (await r.json())["url"] == holder.url  # the other node knows who holds it
            for client in clients:
                await client.close()
        seen = await monitor.close()
    bus = re.findall(rb'\] "[PS]?(?:PUBLISH|SUBSCRIBE)"', seen, re.IGNORECASE)
    assert not bus, bus  # no message bus at all
    assert b'"HSET"' in seen  # the session's state did go through this Redis
    secrets = [*NOTES, *PLAN.values()]
    assert not [s for s in secrets if s.encode() in seen], "a private text reached Redis"
