"""Bad networks: dropped sockets keep their place for the grace period; a facilitator's drop holds the room."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.hardening.helpers import Room, eventually, http_state, make_room
from tests.harness import Client, Harness, running_server


async def drop(client: Client) -> None:
    """The network goes away: the transport closes without a Socket.IO goodbye."""
    await client.sio.eio.disconnect(abort=True)
    await eventually(lambda: not client.sio.connected)


def person(state: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(p for p in state["participants"] if p["id"] == pid)


def holder(state: dict[str, Any]) -> str | None:
    return state["floor"]["holder"] if state["floor"] else None


async def until_state(server: Harness, room: Room, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def check() -> bool:
        found.update(await http_state(server, room.id))
        return bool(predicate(found))

    await eventually(check, timeout, every=0.05)
    return found


async def test_dropped_members_keep_seat_queue_place_and_floor_and_get_them_back(server: Harness) -> None:
    room = await make_room(server, members=3)
    a, b, c = room.members
    assert (await a.ask("hand.raise"))["ok"]
    assert (await b.ask("hand.raise"))["ok"]
    assert (await room.facilitator.ask("floor.grant", {"id": c.id}))["ok"]
    await drop(a)
    await drop(c)
    state = await until_state(
        server, room, lambda s: not person(s, a.id)["connected"] and not person(s, c.id)["connected"]
    )
    assert state["queue"] == [a.id, b.id] and holder(state) == c.id
    assert person(state, a.id)["status"] == person(state, c.id)["status"] == "admitted"

    a2 = await server.connect(room.tokens[a.id])
    c2 = await server.connect(room.tokens[c.id])
    for client in (a2, c2):
        assert client.last("welcome")["you"]["status"] == "admitted"  # no lobby, no re-admission
    state = await until_state(server, room, lambda s: person(s, a.id)["connected"] and person(s, c.id)["connected"])
    assert state["queue"] == [a.id, b.id] and holder(state) == c.id
    assert (await c2.ask("floor.release"))["ok"]
    assert (await room.facilitator.ask("floor.next"))["ok"]
    await until_state(server, room, lambda s: holder(s) == a.id)


async def test_dropped_member_keeps_their_go_around_turn(server: Harness) -> None:
    room = await make_room(server, members=2)
    a, b = room.members
    assert (await room.facilitator.ask("goaround.start", {"order": [a.id, b.id]}))["ok"]
    await drop(a)
    await until_state(server, room, lambda s: not person(s, a.id)["connected"])
    await asyncio.sleep(0.3)
    state = await http_state(server, room.id)
    assert holder(state) == a.id and state["go_around"]["position"] == 0
    a2 = await server.connect(room.tokens[a.id])
    assert (await a2.ask("turn.pass"))["ok"]
    await until_state(server, room, lambda s: holder(s) == b.id)


async def test_after_the_grace_period_a_dropped_member_has_left_and_lost_queue_floor_and_turn() -> None:
    async with running_server(media=False, grace_seconds=1.0) as server:
        room = await make_room(server, members=4)
        a, b, c, d = room.members
        assert (await a.ask("hand.raise"))["ok"]
        assert (await b.ask("hand.raise"))["ok"]
        assert (await room.facilitator.ask("goaround.start", {"order": [c.id, d.id]}))["ok"]
        await drop(a)
        await drop(c)
        state = await until_state(server, room, lambda s: not person(s, c.id)["connected"])
        assert holder(state) == c.id and state["queue"] == [a.id, b.id]  # within grace: kept
        state = await until_state(
            server,
            room,
            lambda s: person(s, a.id)["status"] == "left" and person(s, c.id)["status"] == "left",
            timeout=4,
        )
        assert state["queue"] == [b.id]
        assert holder(state) == d.id and state["go_around"]["order"] == [d.id]
        again = await server.connect(room.tokens[a.id])
        assert again.last("welcome")["you"]["status"] == "waiting"  # comes back through the lobby


@pytest.mark.slow  # a node of its own and a turn left to run out
async def test_facilitator_drop_holds_the_session_refuses_admissions_and_freezes_turns() -> None:
    async with running_server(media=False) as server:
        room = await make_room(server, members=2, admission="open")
        a, b = room.members
        assert (await room.facilitator.ask("floor.grant", {"id": a.id, "turn_seconds": 0.8}))["ok"]
        before = await http_state(server, room.id)
        await drop(room.facilitator)
        state = await until_state(server, room, lambda s: s["on_hold"])
        late = await server.join(room.id, "Late")
        assert late.last("welcome")["you"]["status"] == "waiting"  # open admission, but nobody to admit
        assert (await a.ask("floor.release"))["error"]["code"] == "conflict"
        await asyncio.sleep(1.5)  # longer than the turn had left
        state = await http_state(server, room.id)
        assert state["on_hold"] and holder(state) == a.id
        assert late.id not in {p["id"] for p in state["participants"] if p["status"] == "admitted"}

        back = await server.connect(room.tokens[room.facilitator.id])
        state = await until_state(server, room, lambda s: not s["on_hold"])
        assert holder(state) == a.id and state["floor"]["ends_at"] > before["floor"]["ends_at"] + 1.0
        await until_state(server, room, lambda s: person(s, late.id)["status"] == "admitted")
        await until_state(server, room, lambda s: s["floor"] is None, timeout=4)  # the turn runs out later
        assert (await back.ask("floor.grant", {"id": b.id}))["ok"]


async def test_with_a_cofacilitator_connected_a_facilitator_drop_holds_nothing(server: Harness) -> None:
    room = await make_room(server, members=1, waiting=1)
    co = await server.join(room.id, "Co", role="cofacilitator")
    await drop(room.facilitator)
    state = await until_state(server, room, lambda s: not person(s, room.facilitator.id)["connected"])
    assert state["on_hold"] is False
    assert (await co.ask("admit", {"id": room.waiting[0].id}))["ok"]
    assert (await co.ask("floor.grant", {"id": room.members[0].id}))["ok"]
    state = await until_state(server, room, lambda s: holder(s) == room.members[0].id)
    assert person(state, room.waiting[0].id)["status"] == "admitted"


async def test_a_hold_lifts_when_a_cofacilitator_arrives(server: Harness) -> None:
    room = await make_room(server, members=1)
    await drop(room.facilitator)
    await until_state(server, room, lambda s: s["on_hold"])
    co = await server.join(room.id, "Co", role="cofacilitator")
    await until_state(server, room, lambda s: not s["on_hold"])
    assert (await co.ask("floor.grant", {"id": room.members[0].id}))["ok"]
