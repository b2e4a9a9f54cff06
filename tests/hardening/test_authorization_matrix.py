"""Every client event and every HTTP endpoint against every role and status, as explicit tables.

Socket roles that can connect: facilitator (F), cofacilitator (C), admitted member (M), waiting
member (W), and another session's facilitator (X, whose events act on their own session only: what it
names of ours is ``not_found`` and our session never changes). Removed (R), expired (E), forged (G)
and tokenless (N) connections are refused at connect with ``unauthorized``.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from server.auth import Tokens
from signaling.protocol import CLIENT_EVENTS
from tests.hardening.helpers import eventually, http_state
from tests.harness import Client, Harness, Refused

SECRET = "test-secret-" + "x" * 32
ROLES = ("F", "C", "M", "W", "X")
OK, FORBIDDEN, CONFLICT, NOT_FOUND = "ok", "forbidden", "conflict", "not_found"

# event: (payload, {role: expected}). Payload ids: $M2 is a second admitted member, $W2 a second
# waiting member (agreed), $F our facilitator. Setups (below) make the act possible for who may do it.
# A table, one event per line with the roles in aligned columns: kept out of the formatter.
# fmt: off
MATRIX: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "agree":          ({}, dict(F=FORBIDDEN, C=FORBIDDEN, M=OK, W=OK, X=FORBIDDEN)),
    "admit":          ({"id": "$W2"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
    "admit.all":      ({}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=OK)),
    "deny":           ({"id": "$W2"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
    "remove":         ({"id": "$M2"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
    "lobby.send":     ({"id": "$M2"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
    "lock":           ({}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=OK)),
    "unlock":         ({}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=OK)),
    "agenda.set":     ({"phases": [{"name": "one", "minutes": 5, "floor_mode": "strict"}]},
                       dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=OK)),
    "phase.next":     ({}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=OK)),
    "phase.set":      ({"index": 2}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=OK)),
    "hand.raise":     ({}, dict(F=FORBIDDEN, C=FORBIDDEN, M=OK, W=FORBIDDEN, X=FORBIDDEN)),
    "hand.lower":     ({}, dict(F=FORBIDDEN, C=FORBIDDEN, M=OK, W=FORBIDDEN, X=FORBIDDEN)),
    "floor.grant":    ({"id": "$M2"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
    "floor.next":     ({}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=CONFLICT)),
    "floor.release":  ({}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=CONFLICT)),
    "goaround.start": ({}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=OK)),
    "turn.pass":      ({}, dict(F=CONFLICT, C=CONFLICT, M=OK, W=FORBIDDEN, X=CONFLICT)),
    "goaround.stop":  ({}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=CONFLICT)),
    "mute":           ({"id": "$M2"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
    "unmute.allow":   ({"id": "$M2"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
    "media.state":    ({"audio": True, "video": False}, dict(F=OK, C=OK, M=OK, W=OK, X=OK)),
    "media.receive":  ({"video": False}, dict(F=OK, C=OK, M=OK, W=FORBIDDEN, X=OK)),
    "media.view":     ({"sizes": {"someone": "small"}}, dict(F=OK, C=OK, M=OK, W=FORBIDDEN, X=OK)),
    "nod":            ({}, dict(F=FORBIDDEN, C=FORBIDDEN, M=OK, W=FORBIDDEN, X=FORBIDDEN)),
    "note":           ({"to": "$NOTE", "text": "private"}, dict(F=OK, C=OK, M=OK, W=OK, X=NOT_FOUND)),
    "help":           ({}, dict(F=FORBIDDEN, C=FORBIDDEN, M=OK, W=OK, X=FORBIDDEN)),
    "help.ack":       ({"id": "$M2"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
    "safety.share":   ({"location": "home", "contact": "Jo 555 0100"},
                       dict(F=FORBIDDEN, C=FORBIDDEN, M=OK, W=OK, X=FORBIDDEN)),
    "safety.ask":     ({"id": "$M2"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
    "end":            ({}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=OK)),
    # Places. A co-facilitator may do every act on places; ending another facilitator's side room is
    # the facilitator's alone (here C ends the side room it was sent to, F the co-facilitator's).
    "side.start":     ({"id": "$M2"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
    "side.end":       ({"id": "$M2"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
    "breakout.start": ({"minutes": 5, "size": 2}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=CONFLICT)),
    "breakout.visit": ({"group": 0, "mode": "speak"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=CONFLICT)),
    "breakout.leave": ({}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=CONFLICT)),
    "breakout.move":  ({"id": "$M2", "group": None}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=CONFLICT)),
    "breakout.broadcast": ({"text": "swap roles"}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=CONFLICT)),
    "breakout.end":   ({}, dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=CONFLICT)),
    # Media is disabled on this node: whoever may publish hears ``conflict`` from the media layer.
    "rtc.publish":    ({"sdp": "v=0", "type": "offer"}, dict(F=CONFLICT, C=CONFLICT, M=CONFLICT,
                                                              W=FORBIDDEN, X=CONFLICT)),
    "rtc.answer":     ({"sdp": "v=0", "type": "answer", "revision": 0},
                       dict(F=CONFLICT, C=CONFLICT, M=CONFLICT, W=FORBIDDEN, X=CONFLICT)),
    # End-to-end encryption: anyone says what key (if any) their browser has; only a facilitator
    # relays a wrapped media key, and only to an admitted participant of their own session.
    "e2ee.key":       ({"jwk": None}, dict(F=OK, C=OK, M=OK, W=OK, X=OK)),
    "e2ee.grant":     ({"key_id": 7, "grants": [{"to": "$M2", "wrapped": "A" * 59}]},
                       dict(F=OK, C=OK, M=FORBIDDEN, W=FORBIDDEN, X=NOT_FOUND)),
}
# fmt: on

# A P-256 public key as WebCrypto exports it (any point on the curve: the server only relays it).
PUBLIC_KEY = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}

# Acts that need something in place first, done by our facilitator before each role's attempt.
SETUP: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "hand.lower": [],
    "floor.next": [("raise:$M2", {})],
    "floor.release": [("floor.grant", {"id": "$M2"})],
    "turn.pass": [("goaround.start", {"order": ["$ACTOR_OR_M2"]})],
    "goaround.stop": [("goaround.start", {})],
    "unmute.allow": [("mute", {"id": "$M2"})],
    "unlock": [("lock", {})],
    "side.end": [("side.start", {"id": "$M2", "with": "$C"})],
    "breakout.visit": [("breakout.start", {"minutes": 5, "size": 2})],
    "breakout.leave": [("breakout.start", {"minutes": 5, "size": 2}), ("visit:$ACTOR", {"group": 0})],
    "breakout.move": [("breakout.start", {"minutes": 5, "size": 2})],
    "breakout.broadcast": [("breakout.start", {"minutes": 5, "size": 2})],
    "breakout.end": [("breakout.start", {"minutes": 5, "size": 2})],
    "e2ee.grant": [("key:$ACTOR", {})],
}
# Setups that would be refused the second time (a role's attempt after another's refusal): undone first.
UNDO = {"goaround.start": "goaround.stop", "breakout.start": "breakout.end", "side.start": "side.end"}
# The other session stays without a queue, floor, go-around, side room or breakout: ``conflict`` or
# ``not_found`` there.
X_WITHOUT_SETUP = (
    "floor.next",
    "floor.release",
    "turn.pass",
    "goaround.stop",
    "side.end",
    "breakout.visit",
    "breakout.leave",
    "breakout.move",
    "breakout.broadcast",
    "breakout.end",
)


def test_the_matrix_covers_every_client_event_and_role() -> None:
    assert set(MATRIX) == set(CLIENT_EVENTS)
    assert all(set(row) == set(ROLES) for _, row in MATRIX.values())


class World:
    """Our session (F, C, M, M2, W, W2) and another session (X) on the same node."""

    def __init__(self, server: Harness) -> None:
        self.server = server
        self.clients: dict[str, Client] = {}

    async def build(self) -> None:
        s = self.server
        session = await s.create_session(requires_agreement=True)
        self.session_id = session["id"]
        f = await s.connect(session["facilitator_token"])
        c = await s.join(self.session_id, "Co", role="cofacilitator")
        people = {}
        for label, name in (("M", "Ana"), ("M2", "Ben"), ("W", "Cleo"), ("W2", "Dev")):
            people[label] = await s.join(self.session_id, name)
        for label in ("M", "M2", "W2"):
            assert (await people[label].ask("agree"))["ok"]
        for label in ("M", "M2"):
            assert (await f.ask("admit", {"id": people[label].id}))["ok"]
        other = await s.create_session(requires_agreement=False)
        x = await s.connect(other["facilitator_token"])
        xm = await s.join(other["id"], "Eve")
        assert (await x.ask("admit", {"id": xm.id}))["ok"]
        self.other_id = other["id"]
        self.clients = {"F": f, "C": c, "X": x, "XM": xm, **people}
        await f.state(lambda st: sum(p["status"] == "admitted" for p in st["participants"]) == 4)

    def ids(self, actor: str) -> dict[str, str]:
        c = self.clients
        note_to = c["M"].id if actor in ("F", "C") else (c["F"].id if actor != "X" else c["M"].id)
        return {
            "$F": c["F"].id,
            "$C": c["C"].id,
            "$M2": c["M2"].id,
            "$W2": c["W2"].id,
            "$NOTE": note_to,
            "$ACTOR_OR_M2": c[actor].id if actor == "M" else c["M2"].id,
        }

    async def setup(self, event: str, actor: str) -> None:
        lead = self.clients["X"] if actor == "X" else self.clients["F"]
        ids = self.ids(actor) | {"$M2": self.clients["XM" if actor == "X" else "M2"].id}
        if actor == "X" and event in X_WITHOUT_SETUP:
            return
        if event == "hand.lower" and actor == "M":
            assert (await self.clients["M"].ask("hand.raise"))["ok"]
        for step, payload in SETUP.get(event, []):
            if step in UNDO:  # start it afresh (a go-around with this actor's order)
                await lead.ask(UNDO[step], {"id": ids["$M2"]} if step == "side.start" else {})
            if step == "raise:$M2":
                assert (await self.clients["XM" if actor == "X" else "M2"].ask("hand.raise"))["ok"]
                continue
            if step == "key:$ACTOR":  # whoever grants has sent their public key first
                assert (await self.clients[actor].ask("e2ee.key", {"jwk": PUBLIC_KEY}))["ok"]
                continue
            if step == "visit:$ACTOR":  # the facilitator about to leave a group visits it first
                if actor in ("F", "C"):
                    assert (await self.clients[actor].ask("breakout.visit", payload))["ok"]
                continue
            data = {
                k: ([ids.get(v, v) for v in val] if isinstance(val, list) else ids.get(val, val))
                for k, val in payload.items()
            }
            reply = await lead.ask(step, data)
            assert reply["ok"], (event, step, reply)


async def version(server: Harness, session_id: str) -> int:
    return int((await http_state(server, session_id))["version"])


def resolve(payload: Any, ids: dict[str, str]) -> Any:
    """Placeholders replaced anywhere in a payload (``e2ee.grant`` names its recipients in a list)."""
    if isinstance(payload, dict):
        return {k: resolve(v, ids) for k, v in payload.items()}
    if isinstance(payload, list):
        return [resolve(v, ids) for v in payload]
    return ids.get(payload, payload) if isinstance(payload, str) else payload


@pytest.mark.parametrize("event", sorted(MATRIX))
async def test_event_outcome_for_every_role(server: Harness, event: str) -> None:
    payload, expected = MATRIX[event]
    world: World | None = None
    for role in ("W", "M", "X", "C", "F"):
        if world is None:
            world = World(server)
            await world.build()
        await world.setup(event, role)
        ours_before = await version(server, world.session_id)
        reply = await world.clients[role].ask(event, resolve(payload, world.ids(role)))
        got = OK if reply["ok"] else reply["error"]["code"]
        assert got == expected[role], (event, role, reply)
        if role == "X" or not reply["ok"]:  # a refusal, or another session's act, leaves ours as it was
            assert await version(server, world.session_id) == ours_before, (event, role)
        if reply["ok"]:
            world = None  # an act that succeeded may have changed what the next role finds


# ---- connections that are refused ---------------------------------------------------------


async def test_expired_forged_and_missing_tokens_are_refused_unauthorized_and_a_removed_one_forbidden(
    server: Harness,
) -> None:
    session = await server.create_session(requires_agreement=False)
    f = await server.connect(session["facilitator_token"])
    invite = await server.invite(session["id"], "Ana")
    ana = await server.connect(invite["token"])
    assert (await f.ask("admit", {"id": ana.id}))["ok"]
    assert (await f.ask("remove", {"id": ana.id}))["ok"]
    await eventually(lambda: not ana.sio.connected)
    now = int(time.time())
    with pytest.raises(Refused) as refused:
        await server.connect(invite["token"])
    assert refused.value.data.get("code") == "forbidden", refused.value.data
    tokens = {
        "expired": Tokens(SECRET, -60).mint(session["id"], "m-late", "Late", "member"),
        "forged": Tokens("another-secret-" + "y" * 32, 3600).mint(session["id"], "m-x", "X", "facilitator"),
        "none-alg": jwt.encode(
            {"sub": "m-y", "sid": session["id"], "role": "facilitator", "exp": now + 60}, None, algorithm="none"
        ),
        "no-exp": jwt.encode({"sub": "m-z", "sid": session["id"], "role": "member"}, SECRET),
        "bad-role": jwt.encode({"sub": "m-w", "sid": session["id"], "role": "operator", "exp": now + 60}, SECRET),
        "garbage": "not.a.jwt",
    }
    for label, token in tokens.items():
        with pytest.raises(Refused) as refused:
            await server.connect(token)
        assert refused.value.data.get("code") == "unauthorized", (label, refused.value.data)
    for auth in (None, {}, {"token": None}, {"token": 7}, {"tok": "x"}):
        with pytest.raises(Refused) as refused:
            await connect_raw(server, auth)
        assert refused.value.data.get("code") == "unauthorized", (auth, refused.value.data)


async def connect_raw(server: Harness, auth: Any) -> None:
    import socketio

    sio = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    sio.on("connect_error", lambda data=None: errors.append(data))
    try:
        await sio.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=5)
    except socketio.exceptions.ConnectionError as err:
        raise Refused(((errors[-1] if errors else None) or {}).get("data") or {}) from err
    await sio.disconnect()


# ---- HTTP ---------------------------------------------------------------------------------

HTTP_ROLES = ("operator", "F", "C", "M", "W", "R", "X", "E", "G", "N")  # R: removed (its link revoked)
# endpoint: {role: expected status}
HTTP_MATRIX: dict[str, dict[str, int]] = {
    "POST /api/sessions": dict(operator=201, F=403, C=403, M=403, W=403, R=403, X=403, E=403, G=403, N=401),
    # Leads invite members to their own session; only the operator key mints a lead's role.
    "POST /api/sessions/{id}/invites member": dict(
        operator=201, F=201, C=201, M=403, W=403, R=403, X=403, E=401, G=401, N=401
    ),
    "POST /api/sessions/{id}/invites cofacilitator": dict(
        operator=201, F=403, C=403, M=403, W=403, R=403, X=403, E=401, G=401, N=401
    ),
    "POST /api/sessions/{id}/invites facilitator": dict(
        operator=201, F=403, C=403, M=403, W=403, R=403, X=403, E=401, G=401, N=401
    ),
    "GET /api/sessions/{id}": dict(operator=200, F=200, C=200, M=403, W=403, R=403, X=403, E=401, G=401, N=401),
    "GET /api/sessions/{id}/attendance": dict(
        operator=200, F=200, C=200, M=403, W=403, R=403, X=403, E=401, G=401, N=401
    ),
    "GET /api/sessions/{id}/where": dict(operator=200, F=200, C=200, M=200, W=200, R=403, X=403, E=401, G=401, N=401),
    "GET /metrics": dict(operator=200, F=403, C=403, M=403, W=403, R=403, X=403, E=403, G=403, N=401),
}


async def test_http_endpoint_outcome_for_every_role(server: Harness) -> None:
    session = await server.create_session(requires_agreement=True)
    sid = session["id"]
    f = await server.connect(session["facilitator_token"])
    invites = {
        label: await server.invite(sid, name, role)
        for label, name, role in (
            ("C", "Co", "cofacilitator"),
            ("M", "Ana", "member"),
            ("W", "Ben", "member"),
            ("R", "Cleo", "member"),
        )
    }
    for label in ("M", "R"):
        client = await server.connect(invites[label]["token"])
        assert (await client.ask("agree"))["ok"]
        assert (await f.ask("admit", {"id": client.id}))["ok"]
    r_id = invites["R"]["id"]
    assert (await f.ask("remove", {"id": r_id}))["ok"]
    other = await server.create_session()
    tokens = {
        "operator": "test-operator-key",
        "F": session["facilitator_token"],
        **{label: invites[label]["token"] for label in ("C", "M", "W", "R")},
        "X": other["facilitator_token"],
        "E": Tokens(SECRET, -60).mint(sid, "f-late", "Late", "facilitator"),
        "G": Tokens("another-secret-" + "y" * 32, 3600).mint(sid, "f-forged", "Forged", "facilitator"),
    }
    failures = []
    for endpoint, row in HTTP_MATRIX.items():
        method, path, *invited = endpoint.split(" ")
        for role in HTTP_ROLES:
            headers = {"Authorization": f"Bearer {tokens[role]}"} if role != "N" else {}
            body = {"title": "T"} if path == "/api/sessions" else {"name": "Zed", "role": (invited or ["member"])[0]}
            async with server.http.request(
                method, server.url + path.format(id=sid), headers=headers, json=body if method == "POST" else None
            ) as r:
                if r.status != row[role]:
                    failures.append((endpoint, role, r.status, await r.text()))
                elif r.status >= 400:
                    assert (await r.json())["error"]["code"] in ("unauthorized", "forbidden")
    assert not failures, failures


# ---- isolation ----------------------------------------------------------------------------


async def test_a_participant_never_receives_another_sessions_events(server: Harness) -> None:
    rooms = []
    for title in ("Monday group", "Tuesday group"):
        session = await server.create_session(title=title, requires_agreement=False)
        f = await server.connect(session["facilitator_token"])
        members = [await server.join(session["id"], f"{title[:3]}-{i}") for i in range(3)]
        waiting = await server.join(session["id"], f"{title[:3]}-waiting")
        for m in members:
            assert (await f.ask("admit", {"id": m.id}))["ok"]
        rooms.append((session["id"], f, members, waiting))
    for _, f, members, waiting in rooms:
        a, b, c = members
        assert (await a.ask("hand.raise"))["ok"]
        assert (await f.ask("floor.grant", {"id": b.id}))["ok"]
        assert (await c.ask("nod"))["ok"]
        assert (await f.ask("note", {"to": a.id, "text": "hello"}))["ok"]
        assert (await a.ask("note", {"to": f.id, "text": "hi back"}))["ok"]
        assert (await c.ask("help"))["ok"]
        assert (await waiting.ask("help"))["ok"]
    for _, f, _, _ in rooms:
        assert (await f.ask("end"))["ok"]
    for session_id, f, members, waiting in rooms:
        own = {f.id, waiting.id, *(m.id for m in members)}
        for client in (f, waiting, *members):
            await client.wait_for("session.ended")
            assert_only_own(client, session_id, own)


def assert_only_own(client: Client, session_id: str, own: set[str]) -> None:
    for event, items in client.received.items():
        for data in items:
            if event in ("welcome",):
                data = data["session"]
            if event in ("session.state", "welcome"):
                assert data["id"] == session_id, (event, data)
                assert {p["id"] for p in data["participants"]} <= own, (event, data)
                ids = set(data["queue"]) | ({data["floor"]["holder"]} if data["floor"] else set())
                assert ids <= own, (event, data)
            elif event == "lobby":
                assert {w["id"] for w in data["waiting"]} <= own, data
            elif event in ("nod", "note", "help"):
                assert data["from"] in own, (event, data)
            elif event == "e2ee.keys":  # these clients never say they take part: each is listed as unable
                assert set(data["keys"]) <= own and data["holder"] in own | {None}, (event, data)
            elif event in ("session.ended", "removed", "moved", "error", "connect_error"):
                continue
            else:
                raise AssertionError(f"unexpected event {event}")


# ---- Socket.IO's reserved names -------------------------------------------------------------


async def test_client_cannot_fake_socketio_lifecycle_events(server: Harness) -> None:
    """An event *named* ``disconnect`` must not detach the sender (a facilitator would put the room on
    hold and a member would lose their seat after the grace period while still connected), and one
    named ``connect`` must not re-authenticate the socket as whoever's token it carries."""
    session = await server.create_session(requires_agreement=False)
    f = await server.connect(session["facilitator_token"])
    ana = await server.join(session["id"], "Ana")
    assert (await f.ask("admit", {"id": ana.id}))["ok"]
    before = await version(server, session["id"])
    reply = await f.sio.call("disconnect", {}, timeout=3)
    assert isinstance(reply, dict) and reply["error"]["code"] == "invalid", reply
    state = await http_state(server, session["id"])
    assert state["on_hold"] is False and state["version"] == before
    assert (await f.ask("lock"))["ok"]
    other = await server.create_session()
    reply = await ana.sio.call("connect", ({}, {"token": other["facilitator_token"]}), timeout=3)
    assert isinstance(reply, dict) and reply["error"]["code"] == "invalid", reply
    assert (await ana.ask("hand.raise"))["ok"]
