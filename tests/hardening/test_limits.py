"""Limits that keep one client, one session or one flood from taking the node down."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp
import pytest
import socketio

from server.keys import HUB
from tests.hardening.helpers import eventually, http_state, make_room
from tests.harness import Harness, Refused, running_server


async def test_event_flood_is_rate_limited_and_the_connection_stays_up(server: Harness) -> None:
    room = await make_room(server, members=1)
    member = room.members[0]
    replies = await asyncio.gather(
        *(member.ask("media.state", {"audio": i % 2 == 0, "video": False}) for i in range(80))
    )
    codes = [r["error"]["code"] if not r["ok"] else "ok" for r in replies]
    assert "rate_limited" in codes and "ok" in codes, codes
    assert set(codes) <= {"ok", "rate_limited"}, codes
    limited = next(r for r in replies if not r["ok"])
    assert isinstance(limited["error"]["message"], str) and limited["error"]["message"]
    assert member.sio.connected
    await asyncio.sleep(0.3)  # the bucket refills (20 a second)
    assert (await member.ask("hand.raise"))["ok"]
    # Another connection is not affected by this one's flood.
    assert (await room.facilitator.ask("lock"))["ok"]


async def test_rate_limit_is_per_connection_not_per_session(server: Harness) -> None:
    room = await make_room(server, members=2)
    a, b = room.members
    flood = await asyncio.gather(*(a.ask("hand.lower") for _ in range(60)))
    assert any(not r["ok"] and r["error"]["code"] == "rate_limited" for r in flood)
    assert all(r["ok"] for r in await asyncio.gather(*(b.ask("hand.lower") for _ in range(10))))


async def test_thirteenth_connection_is_refused_with_the_default_maximum(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False)
    await server.connect(session["facilitator_token"])
    for i in range(11):
        await server.join(session["id"], f"Member{i}")
    with pytest.raises(Refused) as refused:
        await server.join(session["id"], "Thirteenth")
    assert refused.value.data["code"] == "conflict" and refused.value.data["message"]
    # A facilitator is never locked out of a full room.
    co = await server.join(session["id"], "Co", role="cofacilitator")
    assert co.last("welcome")["you"]["status"] == "admitted"


async def test_max_participants_from_the_api_refuses_the_next_member(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False, max_participants=3)
    await server.connect(session["facilitator_token"])
    await server.join(session["id"], "One")
    await server.join(session["id"], "Two")
    with pytest.raises(Refused) as refused:
        await server.join(session["id"], "Three")
    assert refused.value.data["code"] == "conflict"


async def test_max_participants_from_the_server_setting() -> None:
    async with running_server(media=False, max_participants=2) as server:
        session = await server.create_session(requires_agreement=False)
        await server.connect(session["facilitator_token"])
        await server.join(session["id"], "One")
        with pytest.raises(Refused) as refused:
            await server.join(session["id"], "Two")
        assert refused.value.data["code"] == "conflict"


async def test_a_node_refuses_to_hold_more_sessions_than_its_maximum() -> None:
    async with running_server(media=False, max_sessions=2) as server:
        sessions = [await server.create_session() for _ in range(3)]
        for s in sessions[:2]:
            await server.connect(s["facilitator_token"])
        with pytest.raises(Refused) as refused:
            await server.connect(sessions[2]["facilitator_token"])
        assert refused.value.data["code"] == "conflict" and refused.value.data["message"]
        async with server.http.get(f"{server.url}/api/sessions/{sessions[2]['id']}/where", headers=server.auth) as r:
            assert r.status == 409 and (await r.json())["error"]["code"] == "conflict"
        # The two held sessions keep working.
        assert len(server.app[HUB].live) == 2


async def test_payload_over_64_kib_is_invalid_and_the_connection_stays_up(server: Harness) -> None:
    room = await make_room(server, members=1)
    before = (await http_state(server, room.id))["version"]
    text = "x" * (64 * 1024 + 10)
    reply = await room.facilitator.ask("note", {"to": room.members[0].id, "text": text})
    assert reply["ok"] is False and reply["error"]["code"] == "invalid"
    assert "65536" in reply["error"]["message"]
    assert room.facilitator.sio.connected
    assert (await room.facilitator.ask("lock"))["ok"]
    assert (await http_state(server, room.id))["version"] == before + 1


@pytest.mark.slow  # a megabyte through the transport: seconds
async def test_message_over_1_mib_closes_only_that_connection(server: Harness) -> None:
    room = await make_room(server, members=2)
    flooder, bystander = room.members
    with contextlib.suppress(socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
        await flooder.sio.call("note", {"to": room.facilitator.id, "text": "y" * (1024 * 1024 + 100)}, timeout=3)
    await eventually(lambda: not flooder.sio.connected)
    assert bystander.sio.connected and room.facilitator.sio.connected
    assert (await bystander.ask("hand.raise"))["ok"]
    # The dropped member keeps their seat for the grace period and may come back.
    state = await http_state(server, room.id)
    assert {p["id"]: p["status"] for p in state["participants"]}[flooder.id] == "admitted"
    back = await server.connect(room.tokens[flooder.id])
    assert back.last("welcome")["you"]["status"] == "admitted"


async def test_integers_over_100_digits_are_dropped_by_the_transport_and_the_connection_stays(server: Harness) -> None:
    """engineio refuses to decode them (a CPU guard), so no ack comes back: documented, not a crash."""
    room = await make_room(server, members=1)
    member = room.members[0]
    with pytest.raises(socketio.exceptions.TimeoutError):
        await member.sio.call("phase.set", {"index": 10**120}, timeout=1)
    assert member.sio.connected
    assert (await member.ask("hand.raise"))["ok"]


@pytest.mark.parametrize("depth", [100, 200])
async def test_deeply_nested_payload_is_invalid_and_the_connection_stays(server: Harness, depth: int) -> None:
    room = await make_room(server, members=1)
    value: Any = 1
    for _ in range(depth):
        value = [value]
    reply = await room.members[0].sio.call("hand.raise", {"x": value}, timeout=5)
    assert reply["ok"] is False and reply["error"]["code"] == "invalid"
    assert (await room.members[0].ask("hand.raise"))["ok"]


async def raw_socket(server: Harness, token: str) -> aiohttp.ClientWebSocketResponse:
    """A hand-driven Engine.IO/Socket.IO websocket, to send what python-socketio's client will not."""
    ws = await server.http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket")
    assert (await ws.receive_str()).startswith("0")
    await ws.send_str("40" + json.dumps({"token": token}))
    assert (await ws.receive_str()).startswith("40")
    return ws


async def next_ack(ws: aiohttp.ClientWebSocketResponse, timeout: float = 3.0) -> str | None:
    """The next ``43<id>[...]`` frame, or None if none came (answering engine.io pings meanwhile)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            return None
        if msg.type != aiohttp.WSMsgType.TEXT:
            return None
        if msg.data == "2":
            await ws.send_str("3")
        elif msg.data.startswith("43"):
            return str(msg.data)
    return None


@pytest.mark.parametrize("depth", [5_000, 100_000])
async def test_nesting_deeper_than_the_decoder_allows_does_not_break_the_connection(
    server: Harness, depth: int
) -> None:
    room = await make_room(server, members=1)
    ws = await raw_socket(server, room.tokens[room.members[0].id])
    await ws.send_str('421["hand.raise",' + "[" * depth + "]" * depth + "]")
    await next_ack(ws, timeout=1.0)  # no ack, or an ``invalid`` one: either way the node carries on
    await ws.send_str('422["hand.raise",{}]')
    ack = await next_ack(ws)
    assert ack is not None and json.loads(ack[3:])[0]["ok"] is True, ack
    await ws.close()
    async with server.http.get(f"{server.url}/healthz") as r:
        assert r.status == 200


async def test_http_body_over_64_kib_is_a_typed_400(server: Harness) -> None:
    big = b'{"title": "' + b"t" * (64 * 1024) + b'"}'
    async with server.http.post(f"{server.url}/api/sessions", data=big, headers=server.auth) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == "invalid"


async def test_http_body_over_64_kib_without_content_length_is_a_typed_400(server: Harness) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 8192

    async with server.http.post(f"{server.url}/api/sessions", data=chunks(), headers=server.auth) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == "invalid"


async def test_http_body_over_1_mib_is_refused_without_a_500(server: Harness) -> None:
    big = b"x" * (2 * 1024 * 1024)
    session = await server.create_session()
    for path in ("/api/sessions", f"/api/sessions/{session['id']}/invites"):
        async with server.http.post(server.url + path, data=big, headers=server.auth) as r:
            assert 400 <= r.status < 500
            assert (await r.json())["error"]["code"] == "invalid"
