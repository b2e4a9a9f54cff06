"""Bad input over the wire: every event, every kind of malformed payload, a typed error each time.

The connection stays up and the session does not change (its version is read over HTTP).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from signaling.protocol import CLIENT_EVENTS, DOMAIN_EVENTS
from tests.harness import Client, Harness, running_server

REQUIRED = {
    name: [f for f, info in model.model_fields.items() if info.is_required()] for name, model in CLIENT_EVENTS.items()
}
WITH_FIELDS = sorted(name for name, model in CLIENT_EVENTS.items() if model.model_fields)
WITH_REQUIRED = sorted(name for name, fields in REQUIRED.items() if fields)
TARGETED = ["admit", "deny", "remove", "mute", "unmute.allow", "floor.grant", "help.ack"]
FACILITATOR_ONLY = sorted(name for name, spec in DOMAIN_EVENTS.items() if spec[1] == "facilitators")


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Harness]:
    """Rate limits lifted: these tests send hundreds of events on one connection on purpose."""
    async with running_server(media=False, event_rate=1e6, event_burst=1e6) as harness:
        yield harness


async def version(server: Harness, session_id: str) -> int:
    async with server.http.get(f"{server.url}/api/sessions/{session_id}", headers=server.auth) as r:
        data: dict[str, Any] = await r.json()
        return int(data["version"])


async def room(server: Harness) -> tuple[str, Client, Client]:
    session = await server.create_session(requires_agreement=False)
    facilitator = await server.connect(session["facilitator_token"])
    member = await server.join(session["id"], "Ana")
    assert (await facilitator.ask("admit", {"id": member.id}))["ok"]
    await member.state(lambda s: len(s["participants"]) == 2)
    return session["id"], facilitator, member


async def assert_refused(server: Harness, session_id: str, client: Client, event: str, payload: Any, code: str) -> None:
    before = await version(server, session_id)
    reply = await client.ask(event, payload)
    assert reply["ok"] is False, (event, payload, reply)
    assert reply["error"]["code"] == code, (event, payload, reply)
    assert isinstance(reply["error"]["message"], str)
    assert client.sio.connected
    assert await version(server, session_id) == before


async def test_every_event_refuses_non_object_payloads(server: Harness) -> None:
    session_id, facilitator, _ = await room(server)
    for event in sorted(CLIENT_EVENTS):
        for payload in ("text", 7, [1, 2], True):
            await assert_refused(server, session_id, facilitator, event, payload, "invalid")


async def test_every_field_refuses_wrong_types(server: Harness) -> None:
    session_id, facilitator, _ = await room(server)
    for event in WITH_FIELDS:
        model = CLIENT_EVENTS[event]
        for field in model.model_fields:
            payload = {f: "x" for f in REQUIRED[event]} | {field: {"wrong": "type"}}
            await assert_refused(server, session_id, facilitator, event, payload, "invalid")


async def test_missing_required_fields_are_invalid(server: Harness) -> None:
    session_id, facilitator, _ = await room(server)
    for event in WITH_REQUIRED:
        await assert_refused(server, session_id, facilitator, event, {}, "invalid")


async def test_unknown_keys_are_invalid(server: Harness) -> None:
    session_id, facilitator, _ = await room(server)
    for event in sorted(CLIENT_EVENTS):
        payload = {f: "x" for f in REQUIRED[event]} | {"surprise": 1}
        await assert_refused(server, session_id, facilitator, event, payload, "invalid")


@pytest.mark.parametrize("size", [3000, 70_000])
async def test_oversized_strings_are_invalid(server: Harness, size: int) -> None:
    session_id, facilitator, member = await room(server)
    long = "é" * size
    await assert_refused(server, session_id, facilitator, "note", {"to": member.id, "text": long}, "invalid")
    await assert_refused(server, session_id, facilitator, "remove", {"id": member.id, "reason": long}, "invalid")
    await assert_refused(server, session_id, facilitator, "admit", {"id": long}, "invalid")
    phases = [{"name": long, "minutes": 5, "floor_mode": "open"}]
    await assert_refused(server, session_id, facilitator, "agenda.set", {"phases": phases}, "invalid")
    sdp = {"sdp": "a" * 61_000, "type": "offer"}
    await assert_refused(server, session_id, facilitator, "rtc.publish", sdp, "invalid")


async def test_unknown_ids_are_not_found(server: Harness) -> None:
    session_id, facilitator, _ = await room(server)
    for event in TARGETED:
        await assert_refused(server, session_id, facilitator, event, {"id": "nobody"}, "not_found")
    await assert_refused(server, session_id, facilitator, "note", {"to": "nobody", "text": "hi"}, "not_found")
    await assert_refused(server, session_id, facilitator, "goaround.start", {"order": ["nobody"]}, "not_found")


async def test_unknown_events_are_invalid(server: Harness) -> None:
    session_id, _facilitator, member = await room(server)
    for event in ("hack", "admin.grant", "connect_error", "welcome", "session.state", "x" * 300):
        await assert_refused(server, session_id, member, event, {}, "invalid")


async def test_member_attempting_each_facilitator_action_is_forbidden(server: Harness) -> None:
    session_id, facilitator, member = await room(server)
    payloads: dict[str, dict[str, Any]] = {
        "admit": {"id": facilitator.id},
        "deny": {"id": facilitator.id},
        "remove": {"id": facilitator.id},
        "lobby.send": {"id": facilitator.id},
        "mute": {"id": facilitator.id},
        "unmute.allow": {"id": facilitator.id},
        "floor.grant": {"id": member.id},
        "help.ack": {"id": member.id},
        "phase.set": {"index": 1},
        "agenda.set": {"phases": [{"name": "x", "minutes": 1, "floor_mode": "strict"}]},
        "side.start": {"id": member.id},
        "breakout.start": {"minutes": 5},
        "breakout.visit": {"group": 0},
        "breakout.move": {"id": member.id, "group": 0},
        "breakout.broadcast": {"text": "hello"},
    }
    for event in FACILITATOR_ONLY:
        await assert_refused(server, session_id, member, event, payloads.get(event, {}), "forbidden")


@pytest.mark.slow  # over the transport limit: seconds
async def test_message_over_the_transport_limit_drops_only_that_connection(server: Harness) -> None:
    _session_id, facilitator, member = await room(server)
    with contextlib.suppress(Exception):
        await member.sio.call("note", {"to": facilitator.id, "text": "x" * 1_200_000}, timeout=2)
    assert (await facilitator.ask("lock"))["ok"]
    assert facilitator.sio.connected
