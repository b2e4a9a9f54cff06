"""Minimum necessary: a member's name lives in the roster only; notes, help and safety plans are kept nowhere."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any
from unittest.mock import ANY

import pytest

from rooms.permissions import Action
from server.keys import STORE
from server.logs import JsonFormatter
from server.memory_store import MemoryStore
from tests.hardening.helpers import eventually
from tests.harness import Client, Harness, running_server

NAME = "Zephyrine Quasimodo"
SURNAME = "Quasimodo"
NOTES = ("my secret note text 12345", "I relapsed on Sunday and told no one 67890")
REMOVED_NAME = "Bartholomew Xanthippe"
PLAN = {
    "location": "Flat 4, 17 Quillfeather Lane",
    "contact": "Morwenna Oakhollow 07700 900555",
    "callback": "Landline 01632 960777",
}


class Lines(logging.Handler):
    """Formats each record as JSON when it is emitted, as the server's own handler does."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def memory_store(server: Harness) -> MemoryStore:
    store = server.app[STORE]
    inner = getattr(store, "_inner", store)
    assert isinstance(inner, MemoryStore)
    return inner


def without_roster_names(data: dict[str, Any]) -> dict[str, Any]:
    copy = dict(data)
    copy["participants"] = [{k: v for k, v in p.items() if k != "name"} for p in data["participants"]]
    return copy


async def whole_session(server: Harness) -> tuple[str, dict[str, str], list[Client]]:
    session = await server.create_session(title="Thursday group", requires_agreement=True, requires_safety_plan=True)
    f = await server.connect(session["facilitator_token"])
    zeph_invite = await server.invite(session["id"], NAME)
    zeph = await server.connect(zeph_invite["token"])
    other = await server.join(session["id"], REMOVED_NAME)
    ben = await server.join(session["id"], "Ben")
    for m in (zeph, other, ben):
        assert (await m.ask("agree"))["ok"]
        plan = PLAN if m is zeph else {"location": "home", "contact": "a neighbour"}
        assert (await m.ask("safety.share", plan))["ok"]
    assert await f.wait_for("safety.shared", lambda e: e["from"] == zeph.id) == {"from": zeph.id, **PLAN, "at": ANY}
    assert (await zeph.ask("note", {"to": f.id, "text": NOTES[1]}))["ok"]  # from the lobby
    assert (await zeph.ask("help"))["ok"]
    assert (await f.ask("admit.all"))["ok"]
    await f.state(lambda s: len(s["participants"]) == 4)
    assert (await f.ask("note", {"to": zeph.id, "text": NOTES[0]}))["ok"]
    assert (await zeph.wait_for("note"))["text"] == NOTES[0]
    assert (await zeph.ask("note", {"to": f.id, "text": NOTES[0]}))["ok"]
    assert (await zeph.ask("help"))["error"]["code"] == "rate_limited"  # one request within a few seconds
    assert (await ben.ask("help"))["ok"]
    assert (await zeph.ask("hand.raise"))["ok"]
    assert (await f.ask("floor.next"))["ok"]
    assert (await ben.ask("nod"))["ok"]
    assert (await f.ask("mute", {"id": zeph.id}))["ok"]
    assert (await f.ask("unmute.allow", {"id": zeph.id}))["ok"]
    assert (await zeph.ask("media.state", {"audio": True, "video": False}))["ok"]
    assert (await f.ask("floor.release"))["ok"]
    assert (await f.ask("safety.ask", {"id": zeph.id}))["ok"]  # e.g. after the console reloaded
    assert await zeph.wait_for("safety.asked") == {}
    answer = await zeph.ask("safety.share", PLAN)  # the client answers from what the member typed
    assert answer["ok"] or answer["error"]["code"] == "rate_limited"  # (within 2 s of the first: refused)
    assert (await f.ask("goaround.start", {"turn_seconds": 30}))["ok"]
    assert (await f.ask("goaround.stop"))["ok"]
    assert (await f.ask("phase.next"))["ok"]
    assert (await f.ask("side.start", {"id": zeph.id}))["ok"]  # a private word
    assert (await f.ask("side.end"))["ok"]
    assert (await f.ask("breakout.start", {"groups": [[zeph.id, ben.id]], "minutes": 5}))["ok"]
    assert (await f.ask("breakout.visit", {"group": 0, "mode": "speak"}))["ok"]
    assert (await f.ask("breakout.broadcast", {"text": NOTES[1]}))["ok"]  # delivered, never kept
    assert (await zeph.wait_for("breakout.broadcast"))["text"] == NOTES[1]
    assert (await f.ask("breakout.end"))["ok"]
    assert (await f.ask("remove", {"id": other.id, "reason": "agreement"}))["ok"]
    assert (await f.ask("invalid.event", {"text": NOTES[0]}))["error"]["code"] == "invalid"
    assert (await zeph.ask("note", {"to": "nobody", "text": NOTES[0]}))["error"]["code"] == "not_found"
    assert (await ben.ask("note", {"to": zeph.id, "text": NOTES[1]}))["error"]["code"] == "forbidden"
    ids = {"f": f.id, "zeph": zeph.id, "other": other.id, "ben": ben.id}
    tokens = {"f": session["facilitator_token"], "zeph": zeph_invite["token"]}
    return session["id"], ids | {f"token_{k}": v for k, v in tokens.items()}, [f, zeph, ben]


def forbidden_strings() -> tuple[str, ...]:
    return (NAME, SURNAME, "Xanthippe", *NOTES, "12345", "67890", "Quillfeather", "Oakhollow", "900555", "960777")


async def test_names_stay_in_the_roster_and_notes_are_kept_nowhere(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    lines = Lines()
    root = logging.getLogger()
    root.addHandler(lines)
    try:
        async with running_server(media=False) as server:
            session_id, ids, clients = await whole_session(server)
            async with server.http.get(f"{server.url}/api/sessions/{session_id}/attendance", headers=server.auth) as r:
                attendance = await r.json()
            store = memory_store(server)
            stored = await store.load(session_id)
            assert stored is not None
            audit = await store.audit(session_id)
            raw = {key: data for key, (data, _) in store._sessions.items()}
            keys = store.keys()
            assert (await clients[0].ask("end"))["ok"]
            await clients[0].wait_for("session.ended")
            after_end = {key: data for key, (data, _) in store._sessions.items()}
    finally:
        root.removeHandler(lines)

    assert any('"session held"' in line for line in lines.lines)  # the capture did see the server's logs
    secrets = (*forbidden_strings(), ids["token_f"], ids["token_zeph"])
    logged = [
        caplog.text,
        *lines.lines,
        *(r.getMessage() for r in caplog.records),
        *(json.dumps(r.__dict__, default=str) for r in caplog.records),
    ]
    for text in logged:
        for secret in secrets:
            assert secret not in text, (secret, text[:500])

    for snapshot in (raw, after_end):
        for key, data in snapshot.items():
            blob = json.dumps(without_roster_names(data), default=str)
            for secret in forbidden_strings():
                assert secret not in blob and secret not in key, (secret, key)
    roster = {p["id"]: p["name"] for p in raw[session_id]["participants"]}
    assert roster[ids["zeph"]] == NAME  # the roster is where the name belongs
    assert not any(secret in " ".join(keys) for secret in forbidden_strings())

    for record in audit:
        fields = dataclasses.asdict(record)
        assert set(fields) == {"session_id", "at", "actor", "action", "target"}
        assert record.actor in (*roster, ""), record
        if record.action == "phase":
            assert record.target is not None and record.target.isdigit(), record  # the phase index
        else:
            assert record.target is None or record.target in roster, record
        assert record.action in {a.value for a in Action} | {"session.live", "phase"}, record
        for secret in forbidden_strings():
            assert secret not in json.dumps(fields, default=str)

    for row in attendance:
        assert set(row) == {"id", "name", "role", "joined_at", "left_at", "spoke_seconds"}
        rest = json.dumps({k: v for k, v in row.items() if k != "name"})
        for secret in forbidden_strings():
            assert secret not in rest
        assert not any(note in row["name"] for note in NOTES)
    assert {row["id"]: row["name"] for row in attendance}[ids["zeph"]] == NAME


async def test_an_ended_session_expires_from_the_store() -> None:
    async with running_server(media=False, ended_ttl=1.0) as server:
        session_id, ids, clients = await whole_session(server)
        store = memory_store(server)
        assert await store.load(session_id) is not None and await store.audit(session_id)
        assert await store.is_revoked(session_id, ids["other"])
        assert (await clients[0].ask("end"))["ok"]
        await clients[0].wait_for("session.ended")

        async def gone() -> bool:
            return await store.load(session_id) is None

        await eventually(gone, timeout=3)
        assert await store.audit(session_id) == []
        live_keys: list[str] = store.keys()
        assert not [k for k in live_keys if session_id in k]
        assert not await store.is_revoked(session_id, ids["other"])
        async with server.http.get(f"{server.url}/api/sessions/{session_id}", headers=server.auth) as r:
            assert r.status == 404
