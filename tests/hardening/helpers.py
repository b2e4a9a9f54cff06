"""Shared pieces of the hardening suite: reading state over HTTP, checking it, building small rooms."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from signaling.protocol import ERROR_CODES
from tests.harness import Client, Harness


async def http_state(server: Harness, session_id: str) -> dict[str, Any]:
    """The facilitators' view of a session, read with the operator key."""
    async with server.http.get(f"{server.url}/api/sessions/{session_id}", headers=server.auth) as r:
        assert r.status == 200, await r.text()
        data: dict[str, Any] = await r.json()
        return data


def assert_ack(reply: Any) -> None:
    """An ack is ``{ok: true, ...}`` or ``{ok: false, error: {code, message}}`` with a known code."""
    assert isinstance(reply, dict), reply
    assert reply.get("ok") in (True, False), reply
    if reply["ok"]:
        assert "error" not in reply, reply
        return
    error = reply.get("error")
    assert isinstance(error, dict), reply
    assert error.get("code") in ERROR_CODES, reply
    assert isinstance(error.get("message"), str) and error["message"], reply


def assert_state_valid(state: dict[str, Any]) -> None:
    """The turn invariants: one admitted floor holder at most, an admitted queue without repeats."""
    status = {p["id"]: p["status"] for p in state["participants"]}
    floor = state["floor"]
    if floor is not None:
        assert status.get(floor["holder"]) == "admitted", state
    queue = state["queue"]
    assert len(queue) == len(set(queue)), state
    assert all(status.get(pid) == "admitted" for pid in queue), state
    if floor is not None:
        assert floor["holder"] not in queue, state
    g = state["go_around"]
    if g is not None:
        assert len(g["order"]) == len(set(g["order"])), state
        assert all(status.get(pid) == "admitted" for pid in g["order"]), state
        assert 0 <= g["position"] < len(g["order"]), state
        assert floor is not None and floor["holder"] == g["order"][g["position"]], state
    if state["status"] == "ended":
        assert floor is None and queue == [] and g is None, state


@dataclass
class VersionWatch:
    """Checks that the versions a client sees only grow."""

    seen: int = -1
    checked: int = 0

    def check(self, client: Client) -> None:
        states = client.received["session.state"]
        for state in states[self.checked :]:
            assert state["version"] >= self.seen, (self.seen, state["version"])
            self.seen = state["version"]
            assert_state_valid(state)
        self.checked = len(states)


async def eventually(predicate: Any, timeout: float = 5.0, every: float = 0.02) -> None:
    """Poll a sync or async predicate until it holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(every)


@dataclass
class Room:
    """A live session with a facilitator and members, as the tests need it."""

    session: dict[str, Any]
    facilitator: Client
    members: list[Client] = field(default_factory=list)
    waiting: list[Client] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.session["id"])


async def make_room(
    server: Harness, members: int = 2, waiting: int = 0, names: tuple[str, ...] = (), **body: Any
) -> Room:
    """Create a session, connect its facilitator, admit ``members`` and leave ``waiting`` in the lobby."""
    body.setdefault("requires_agreement", False)
    session = await server.create_session(**body)
    facilitator = await server.connect(session["facilitator_token"])
    room = Room(session, facilitator)
    room.tokens[facilitator.id] = session["facilitator_token"]
    labels = list(names) or [f"Member{i}" for i in range(members + waiting)]
    for i in range(members + waiting):
        invite = await server.invite(session["id"], labels[i])
        client = await server.connect(invite["token"])
        room.tokens[client.id] = invite["token"]
        if i < members:
            if body.get("admission") != "open":  # open admission lets them straight in
                reply = await facilitator.ask("admit", {"id": client.id})
                assert reply["ok"], reply
            room.members.append(client)
        else:
            room.waiting.append(client)
    want = members + 1
    await facilitator.state(lambda s: sum(p["status"] == "admitted" for p in s["participants"]) == want)
    return room


async def wait_disconnected(client: Client, timeout: float = 5.0) -> None:
    await eventually(lambda: not client.sio.connected, timeout)
