"""The python-socketio pieces Hearth replaces: the one-pass room fan-out and the orjson packet codec.

Each test runs a real python-socketio server on a free loopback port with real clients, so a
python-socketio upgrade that moves a seam (``get_participants``, ``_send_eio_packet``, the packet's
``json`` attribute) fails here by name.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import socketio
from aiohttp import web

from signaling.sockets import FanOut, JsonPacket
from tests.harness import free_port


class Received:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.changed = asyncio.Event()

    async def until(self, count: int) -> list[tuple[str, Any]]:
        async with asyncio.timeout(5):
            while len(self.events) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.events


@pytest_asyncio.fixture
async def server() -> AsyncIterator[tuple[socketio.AsyncServer, str]]:
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=FanOut(), serializer=JsonPacket)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, str]) -> None:
        await sio.enter_room(sid, auth["room"])

    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield sio, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def client(url: str, room: str) -> tuple[socketio.AsyncClient, Received]:
    received = Received()
    sio = socketio.AsyncClient()

    @sio.on("*")
    async def any_event(event: str, data: Any) -> None:
        received.events.append((event, data))
        received.changed.set()

    await sio.connect(url, auth={"room": room}, transports=["websocket"])
    return sio, received


async def test_a_room_emit_reaches_each_socket_in_the_room_once_and_in_order(
    server: tuple[socketio.AsyncServer, str],
) -> None:
    sio, url = server
    inside = [await client(url, "s:1:members") for _ in range(3)]
    outside = await client(url, "s:2:members")
    for n in range(20):
        await sio.emit("session.state", {"version": n, "title": "Tuesday ✓"}, to="s:1:members")
    for conn, received in inside:
        events = await received.until(20)
        assert events == [("session.state", {"version": n, "title": "Tuesday ✓"}) for n in range(20)]
        await conn.disconnect()
    # A marker sent straight to the outside socket after the room emits: its queue is in order, so once
    # the marker is there, any room emit that had wrongly reached it would be there too.
    await sio.emit("marker", {"after": "room emits"}, to=outside[0].get_sid())
    assert await outside[1].until(1) == [("marker", {"after": "room emits"})]
    await outside[0].disconnect()


async def test_emits_to_a_single_socket_and_with_acks_still_work(server: tuple[socketio.AsyncServer, str]) -> None:
    sio, url = server
    conn, received = await client(url, "s:1:leads")
    acked: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    @conn.on("ping.me")
    async def answer(data: Any) -> str:
        return "pong"

    (sid,) = [s for s, _ in sio.manager.get_participants("/", "s:1:leads")]
    await sio.emit("note", {"from": "fac", "text": "hi"}, to=sid)
    await sio.emit("ping.me", {}, to=sid, callback=acked.set_result)
    assert (await received.until(1))[0] == ("note", {"from": "fac", "text": "hi"})
    assert await asyncio.wait_for(acked, 5) == "pong"
    await conn.disconnect()


def test_packets_are_encoded_compactly_with_orjson_and_decoded_with_engineios_guard() -> None:
    packet = JsonPacket(socketio.packet.EVENT, namespace="/", data=["session.state", {"a": [1, 2.5, None], "b": "é"}])
    assert packet.encode() == '2["session.state",{"a":[1,2.5,null],"b":"é"}]'
    decoded = JsonPacket(encoded_packet='2["lock",{"n":123456789012345678901234567890}]')
    assert decoded.data == ["lock", {"n": 123456789012345678901234567890}]
    with pytest.raises(ValueError, match="too large"):  # engineio's guard: no 100-digit integers
        JsonPacket(encoded_packet='2["lock",{"n":' + "9" * 101 + "}]")
