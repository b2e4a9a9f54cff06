"""The operator's HTTP API against a real node."""

from __future__ import annotations

from typing import Any

from tests.harness import Harness


async def call(server: Harness, method: str, path: str, token: str | None = None, **body: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with server.http.request(method, server.url + path, json=body or None, headers=headers) as r:
        return r.status, await r.json()


async def test_operator_creates_a_session_with_a_facilitator_link(server: Harness) -> None:
    agenda = [
        {"name": "check-in", "minutes": 10, "floor_mode": "open"},
        {"name": "practice", "minutes": 30, "floor_mode": "strict"},
    ]
    status, body = await call(
        server,
        "POST",
        "/api/sessions",
        "test-operator-key",
        title="Grief group",
        agenda=agenda,
        admission="open",
        requires_agreement=False,
    )
    assert status == 201
    assert body["facilitator_url"] == f"{server.url}/s/{body['id']}#token={body['facilitator_token']}"
    status, state = await call(server, "GET", f"/api/sessions/{body['id']}", "test-operator-key")
    assert status == 200
    assert state["title"] == "Grief group" and state["status"] == "open"
    assert [p["floor_mode"] for p in state["agenda"]] == ["open", "strict"]


async def test_default_agenda_is_the_five_phases(server: Harness) -> None:
    session = await server.create_session()
    _, state = await call(server, "GET", f"/api/sessions/{session['id']}", "test-operator-key")
    assert [(p["name"], p["floor_mode"]) for p in state["agenda"]] == [
        ("check-in", "open"),
        ("focused conversation", "hands"),
        ("skill-building", "hands"),
        ("reflection and peer feedback", "hands"),
        ("check-out", "open"),
    ]


async def test_facilitator_invites_with_their_own_token_but_a_member_cannot(server: Harness) -> None:
    session = await server.create_session()
    status, invite = await call(
        server,
        "POST",
        f"/api/sessions/{session['id']}/invites",
        session["facilitator_token"],
        name="Ana",
        role="member",
    )
    assert status == 201 and invite["url"].endswith(invite["token"])
    status, body = await call(
        server, "POST", f"/api/sessions/{session['id']}/invites", invite["token"], name="Eve", role="facilitator"
    )
    assert (status, body["error"]["code"]) == (403, "forbidden")


async def test_attendance_lists_durations_and_no_content(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False)
    facilitator = await server.connect(session["facilitator_token"])
    ana = await server.join(session["id"], "Ana")
    assert (await facilitator.ask("admit", {"id": ana.id}))["ok"]
    assert (await facilitator.ask("note", {"to": ana.id, "text": "private words"}))["ok"]
    status, rows = await call(server, "GET", f"/api/sessions/{session['id']}/attendance", session["facilitator_token"])
    assert status == 200
    assert {row["name"] for row in rows} == {"Facilitator", "Ana"}
    assert all(set(row) == {"id", "name", "role", "joined_at", "left_at", "spoke_seconds"} for row in rows)
    assert "private words" not in str(rows)


async def test_api_errors_are_typed(server: Harness) -> None:
    assert (await call(server, "POST", "/api/sessions", None, title="x"))[0] == 401
    status, body = await call(server, "POST", "/api/sessions", "wrong-key", title="x")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await call(server, "POST", "/api/sessions", "test-operator-key", title="")
    assert (status, body["error"]["code"]) == (400, "invalid")
    status, body = await call(server, "GET", "/api/sessions/s-nope", "test-operator-key")
    assert (status, body["error"]["code"]) == (404, "not_found")
    async with server.http.post(f"{server.url}/api/sessions", data=b"{not json", headers=server.auth) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == "invalid"


async def test_where_names_this_node_for_a_single_node(server: Harness) -> None:
    session = await server.create_session()
    status, body = await call(server, "GET", f"/api/sessions/{session['id']}/where", session["facilitator_token"])
    assert (status, body) == (200, {"url": server.url})


async def test_health_and_readiness(server: Harness) -> None:
    async with server.http.get(f"{server.url}/healthz") as r:
        assert r.status == 200
    async with server.http.get(f"{server.url}/readyz") as r:
        assert r.status == 200 and (await r.json())["ok"] is True


async def test_a_scheduled_start_reaches_the_waiting_room_and_a_start_without_a_time_zone_is_refused(
    server: Harness,
) -> None:
    status, body = await call(
        server, "POST", "/api/sessions", "test-operator-key", title="Evening", starts_at="2026-12-07T18:00:00+01:00"
    )
    assert status == 201
    invite = await server.invite(body["id"], "Ana")
    ana = await server.connect(invite["token"])
    assert ana.last("welcome")["session"]["starts_at"] == 1796662800.0  # 17:00 UTC
    status, refused = await call(
        server, "POST", "/api/sessions", "test-operator-key", title="Evening group", starts_at="2026-12-07T18:00:00"
    )
    assert status == 400 and refused["error"]["code"] == "invalid"
