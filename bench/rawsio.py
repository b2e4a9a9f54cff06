"""A minimal Socket.IO v5 client over one aiohttp websocket, for load generators.

python-socketio's client decodes every event into Python objects; at thousands of full
``session.state`` events a second that decoding, not the server, became the bottleneck of the
benchmarks. This client hands each event over as its raw text, so a benchmark can read the one
field it needs (a version number) with a regex. It speaks only what the benchmarks use: connect with
auth, answer pings, emit (with or without ack), receive events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from typing import Any

import aiohttp

EVENT_NAME = re.compile(r'^42(?:\d+)?\["([^"]+)"')


class Refused(Exception):
    pass


class RawClient:
    def __init__(self, http: aiohttp.ClientSession, on_event: Callable[[str, str], None]) -> None:
        self.http, self.on_event = http, on_event
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0

    async def connect(self, url: str, auth: dict[str, Any]) -> None:
        ws_url = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = await self.http.ws_connect(ws_url, max_msg_size=2**22)
        opening = await self.ws.receive_str()
        assert opening.startswith("0"), opening
        await self.ws.send_str("40" + json.dumps(auth))
        while True:
            reply = await self.ws.receive_str()
            if reply.startswith("40"):
                break
            if reply.startswith("44"):
                raise Refused(reply[2:])
            self._dispatch(reply)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    def _dispatch(self, text: str) -> None:
        if text.startswith("42"):
            match = EVENT_NAME.match(text)
            if match:
                self.on_event(match.group(1), text)
        elif text.startswith("43"):
            ack_id = int(re.match(r"43(\d+)", text).group(1))  # type: ignore[union-attr]
            future = self._acks.pop(ack_id, None)
            if future is not None and not future.done():
                future.set_result(json.loads(text[2 + len(str(ack_id)) :])[0])

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            if message.data == "2":
                await self.ws.send_str("3")
            else:
                self._dispatch(message.data)

    async def emit(self, event: str, data: Any) -> None:
        assert self.ws is not None
        await self.ws.send_str("42" + json.dumps([event, data]))

    async def call(self, event: str, data: Any, timeout: float = 10.0) -> Any:
        assert self.ws is not None
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[self._next_id] = future
        await self.ws.send_str(f"42{self._next_id}" + json.dumps([event, data]))
        return await asyncio.wait_for(future, timeout)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.ws is not None:
            await self.ws.close()
