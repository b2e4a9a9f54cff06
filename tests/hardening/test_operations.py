"""What an operator runs the node with: metrics, health, readiness, request ids, shutdown, origins."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
import socketio

from server.app import HUB, STORE
from server.logs import JsonFormatter
from tests.hardening.helpers import eventually, make_room
from tests.harness import OPERATOR_KEY, Harness, Refused, running_server


async def test_metrics_with_the_operator_key_expose_sessions_participants_events_errors_and_store(
    server: Harness,
) -> None:
    room = await make_room(server, members=2)
    assert (await room.members[0].ask("admit", {"id": room.facilitator.id}))["error"]["code"] == "forbidden"
    assert (await room.facilitator.ask("nonsense"))["error"]["code"] == "invalid"
    async with server.http.get(f"{server.url}/metrics", headers=server.auth) as r:
        assert r.status == 200
        text = await r.text()
    assert "hearth_sessions_live 1.0" in text
    assert "hearth_participants_connected 3.0" in text
    assert 'hearth_events_total{event="admit"}' in text
    assert 'hearth_event_errors_total{code="forbidden",event="admit"} 1.0' in text
    assert 'hearth_event_errors_total{code="invalid",event="unknown"} 1.0' in text
    assert 'hearth_store_seconds_count{op="save"}' in text
    assert 'hearth_store_seconds_bucket{le="0.001",op="load"}' in text


@pytest.mark.parametrize(
    "headers", [{"Authorization": "Bearer not-the-key"}, {"Authorization": f"Bearer {OPERATOR_KEY}x"}]
)
async def test_metrics_with_a_wrong_key_are_a_403_json_error(server: Harness, headers: dict[str, str]) -> None:
    async with server.http.get(f"{server.url}/metrics", headers=headers) as r:
        assert r.status == 403
        assert (await r.json())["error"]["code"] == "forbidden"


async def test_metrics_without_any_key_are_refused_with_a_json_error(server: Harness) -> None:
    """No credentials at all is 401 ``unauthorized`` (the protocol's code for a missing bearer)."""
    async with server.http.get(f"{server.url}/metrics") as r:
        assert r.status in (401, 403)
        body = await r.json()
        assert body["error"]["code"] in ("unauthorized", "forbidden") and "hearth_" not in json.dumps(body)


async def test_healthz_and_readyz_answer_200_with_a_working_store(server: Harness) -> None:
    async with server.http.get(f"{server.url}/healthz") as r:
        assert r.status == 200 and (await r.json())["ok"] is True
    async with server.http.get(f"{server.url}/readyz") as r:
        assert r.status == 200 and (await r.json())["ok"] is True


async def test_readyz_fails_when_the_store_fails(server: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from server.keys import STORE

    async def broken() -> None:
        raise ConnectionError("store down")

    monkeypatch.setattr(server.app[STORE]._inner, "ping", broken)  # type: ignore[attr-defined]
    async with server.http.get(f"{server.url}/readyz") as r:
        assert r.status >= 500 and (await r.json())["error"]["code"] == "internal"


ROUTED = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/sessions"),
    ("GET", "/api/sessions/s-nothing"),
    ("GET", "/api/sessions/s-nothing/attendance"),
    ("GET", "/"),
    ("GET", "/socket.io/?EIO=4&transport=polling"),
]
UNROUTED = [
    ("GET", "/no/such/page"),
    ("PUT", "/api/sessions"),
    ("GET", "/web/../../etc/passwd"),
    ("DELETE", "/api/sessions/s-x"),
]


@pytest.mark.parametrize(("method", "path"), ROUTED)
async def test_every_routed_response_has_a_request_id(server: Harness, method: str, path: str) -> None:
    async with server.http.request(method, server.url + path) as r:
        assert r.headers.get("X-Request-Id"), (r.status, dict(r.headers))


@pytest.mark.parametrize(("method", "path"), UNROUTED)
async def test_not_found_and_method_not_allowed_responses_have_a_request_id(
    server: Harness, method: str, path: str
) -> None:
    async with server.http.request(method, server.url + path) as r:
        assert r.status in (404, 405)
        assert r.headers.get("X-Request-Id"), (r.status, dict(r.headers))


async def test_a_given_request_id_is_echoed(server: Harness) -> None:
    async with server.http.get(f"{server.url}/healthz", headers={"X-Request-Id": "abc-123"}) as r:
        assert r.headers["X-Request-Id"] == "abc-123"


class Lines(logging.Handler):
    """Formats each record as it is emitted (the request id lives in a context variable)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_json_log_lines_of_an_http_request_carry_its_request_id(server: Harness) -> None:
    session = await server.create_session()
    handler = Lines()
    logger = logging.getLogger("hearth")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        url = f"{server.url}/api/sessions/{session['id']}/where"
        async with server.http.get(url, headers=server.auth | {"X-Request-Id": "req-42"}) as r:
            assert r.status == 200
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    held = [line for line in handler.lines if line["msg"] == "session held"]
    assert held and all(line.get("request_id") == "req-42" for line in held), handler.lines


@pytest.mark.slow  # a node drains and stops: seconds
async def test_graceful_shutdown_sends_moved_before_disconnecting() -> None:
    clients: list[Any] = []

    async def run_and_stop() -> None:
        async with running_server(media=False) as server:
            room = await make_room(server, members=2)
            clients.extend([room.facilitator, *room.members])
            server.clients.clear()  # let the shutdown, not the harness, close them

    await asyncio.wait_for(run_and_stop(), timeout=8)  # a graceful stop is also a prompt one
    await eventually(lambda: not any(c.sio.connected for c in clients), timeout=2)
    for client in clients:
        assert client.received["moved"], client.id


async def test_a_stopping_node_takes_no_session_again() -> None:
    """After ``shutdown`` let go of a session, this node neither serves nor re-takes it: ``/where``
    answers ``moved`` without a url (ask another node), and so does a new connection."""
    async with running_server(media=False) as server:
        room = await make_room(server, members=1)
        server.clients.clear()  # the shutdown closes them
        await server.app[HUB].shutdown()
        assert await server.app[STORE].lease(room.id) is None  # released
        async with server.http.get(f"{server.url}/api/sessions/{room.id}/where", headers=server.auth) as r:
            assert r.status == 409
            assert (await r.json())["error"]["code"] == "moved"
        with pytest.raises(Refused) as refused:
            await server.connect(room.tokens[room.facilitator.id])
        assert refused.value.data["code"] == "moved" and refused.value.data["url"] == ""
        assert await server.app[STORE].lease(room.id) is None  # and not taken back


async def test_allowed_origin_refuses_a_handshake_from_another_origin() -> None:
    async with running_server(media=False, allowed_origins=["https://clinic.example"]) as server:
        session = await server.create_session()
        evil = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await evil.connect(
                server.url,
                auth={"token": session["facilitator_token"]},
                headers={"Origin": "https://evil.example"},
                transports=["websocket"],
                wait_timeout=5,
            )
        assert not evil.connected
        good = socketio.AsyncClient(reconnection=False)
        await good.connect(
            server.url,
            auth={"token": session["facilitator_token"]},
            headers={"Origin": "https://clinic.example"},
            transports=["websocket"],
            wait_timeout=5,
        )
        assert good.connected
        await good.disconnect()


async def test_allowed_origins_add_to_the_nodes_own_and_pages_may_connect_to_them() -> None:
    """Another node's origin lets its pages in, keeps this node's own, and lets this node's pages
    connect there (over WebSocket too) when their session moves."""
    other = "https://node2.clinic.example"
    async with running_server(media=False, allowed_origins=[other]) as server:
        session = await server.create_session()
        for origin in (other, server.url):
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(
                server.url,
                auth={"token": session["facilitator_token"]},
                headers={"Origin": origin},
                transports=["websocket"],
                wait_timeout=5,
            )
            assert client.connected, origin
            await client.disconnect()
        async with server.http.get(f"{server.url}/s/{session['id']}") as r:
            policy = r.headers["Content-Security-Policy"]
        connect = next(part for part in policy.split("; ") if part.startswith("connect-src"))
        assert connect.split()[1:] == ["'self'", other, "wss://node2.clinic.example"]


def test_production_refuses_a_short_operator_key() -> None:
    import argparse

    from server.config import MIN_OPERATOR_KEY_BYTES, add_arguments, from_env_and_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    secret = "s" * 32
    short = "k" * (MIN_OPERATOR_KEY_BYTES - 1)
    with pytest.raises(SystemExit):
        from_env_and_args(parser.parse_args(["--production", f"--secret={secret}", f"--operator-key={short}"]), {})
    long_enough = "k" * MIN_OPERATOR_KEY_BYTES
    args = parser.parse_args(["--production", f"--secret={secret}", f"--operator-key={long_enough}"])
    assert from_env_and_args(args, {}).operator_key == long_enough
