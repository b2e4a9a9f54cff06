"""The operator's HTTP API: create sessions, invite people, read state and attendance, find the node.

Operators authenticate with ``Authorization: Bearer <operator key>``; a facilitator may use their own
join token for their own session. Bodies are strict typed models; errors are ``{error: {code,
message}}`` with the matching HTTP status.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from rooms.agenda import MAX_PHASES
from rooms.errors import NotFound, RoomError
from rooms.model import DEFAULT_E2EE, Admission, E2eeMode, FloorMode, Phase, Session
from rooms.views import attendance_view, state_view
from server.auth import new_id, operator_key_matches
from server.keys import FAILED_CREDENTIALS, HUB, SETTINGS, STORE, TOKENS
from signaling.limits import RateLimiter
from signaling.ports import Claims, Moved, Unauthorized
from signaling.protocol import PhaseIn

STATUS = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "moved": 409,
    "rate_limited": 429,
    "internal": 500,
}
MAX_BODY = 64 * 1024
# Credentials this server never issued, per client address: a few are typos, a stream is guessing. Ten at once, then one
# every five seconds; past that every request with a credential is answered 429 until the bucket refills.
FAILED_CREDENTIALS_BURST = 10.0
FAILED_CREDENTIALS_PER_SECOND = 0.2
FAILED_CREDENTIALS_TRACKED = 10_000  # addresses remembered before full buckets are dropped
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateSession(Body):
    title: Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")]
    agenda: Annotated[list[PhaseIn], Field(min_length=1, max_length=MAX_PHASES)] | None = None
    requires_agreement: bool = True
    requires_safety_plan: bool = False  # members share a location and emergency contact before admission
    e2ee: Literal["required", "preferred", "off"] = DEFAULT_E2EE.value  # media encrypted in the browsers
    admission: Literal["lobby", "open"] = "lobby"
    facilitator_name: Name = "Facilitator"
    max_participants: Annotated[int, Field(ge=2, le=50)] | None = None
    # When the group is scheduled to begin (ISO 8601 with a time zone): the waiting room tells those
    # who come early how long until then. Nothing waits for it; the facilitator starts the session.
    starts_at: Annotated[AwareDatetime, Field(strict=False)] | None = None  # JSON has no datetime: parsed


class Invite(Body):
    name: Name
    role: Literal["member", "cofacilitator", "facilitator"] = "member"


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def error_response(code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **extra}}, status=STATUS[code])


@web.middleware
async def api_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every API failure becomes a typed JSON error; nothing leaks a traceback."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as err:
        return error_response(err.code, err.message)
    except RoomError as err:
        return error_response(err.code, err.message)
    except Moved as err:
        return error_response("moved", str(err), url=err.url)
    except Unauthorized as err:
        return error_response("unauthorized", str(err))


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError("invalid", "body too large")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ApiError("invalid", "body too large")
    try:
        return model.model_validate(json.loads(raw or b"{}"))
    except (ValueError, RecursionError) as err:
        message = _summary(err) if isinstance(err, ValidationError) else "body is not JSON"
        raise ApiError("invalid", message) from None


def _summary(err: ValidationError) -> str:
    first = err.errors(include_input=False, include_url=False)[0]
    return f"{'.'.join(str(x) for x in first['loc']) or 'body'}: {first['msg']}"[:200]


def _bearer(request: web.Request) -> str:
    _throttle(request)
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or len(header) > 4096:
        raise ApiError("unauthorized", "an Authorization: Bearer header is required")
    token = header[7:].strip()
    if not token.isascii():  # keys and JWTs are ASCII; other bytes arrive surrogate-escaped
        raise ApiError("unauthorized", "the bearer token is not valid")
    return token


def _throttle(request: web.Request) -> None:
    """Refuse (429) a client address that has sent too many wrong credentials lately."""
    if request.app[FAILED_CREDENTIALS].exhausted(request.remote or "unknown", time.monotonic()):
        raise ApiError("rate_limited", "too many failed attempts; wait a minute")


def _failed(request: web.Request, token: str) -> None:
    """Count a credential this server never issued (a wrong key, a forged or garbled token) against
    the client's address. A join token used where it gives no right is refused, not counted."""
    if request.app[TOKENS].signed(token):
        return
    failures, now = request.app[FAILED_CREDENTIALS], time.monotonic()
    if failures.tracked > FAILED_CREDENTIALS_TRACKED:
        failures.forget_full(now)
    failures.allow(request.remote or "unknown", now)


def _is_operator(request: web.Request, token: str) -> bool:
    return operator_key_matches(token, request.app[SETTINGS].operator_key)


def require_operator(request: web.Request) -> None:
    token = _bearer(request)
    if not _is_operator(request, token):
        _failed(request, token)
        raise ApiError("forbidden", "the operator key is required")


async def _session_claims(request: web.Request, session_id: str, token: str) -> Claims:
    try:
        claims = request.app[TOKENS].verify(token)
    except Unauthorized:
        _failed(request, token)
        raise
    if claims.session_id != session_id:
        raise ApiError("forbidden", "this token is for another session")
    if await request.app[STORE].is_revoked(session_id, claims.participant_id):
        raise ApiError("forbidden", "a facilitator removed you from this session")  # only a removal revokes
    return claims


async def require_operator_or_lead(request: web.Request, session_id: str) -> Claims | None:
    """None for the operator; a facilitator's or co-facilitator's claims for their own session."""
    token = _bearer(request)
    if _is_operator(request, token):
        return None
    claims = await _session_claims(request, session_id, token)
    if claims.role == "member":
        raise ApiError("forbidden", "only the operator and the session's facilitators")
    return claims


async def load_session(request: web.Request, session_id: str) -> Session:
    """The freshest copy: this node's live one if it holds the session, else the store's."""
    live = request.app[HUB].live.get(session_id)
    if live is not None:
        return live.session
    session = await request.app[STORE].load(session_id)
    if session is None:
        raise NotFound(f"no session {session_id}")
    return session


def join_url(request: web.Request, session_id: str, token: str) -> str:
    return f"{request.app[SETTINGS].public_url}/s/{session_id}#token={token}"


async def create_session(request: web.Request) -> web.Response:
    require_operator(request)
    body: CreateSession = await _body(request, CreateSession)
    settings, clock = request.app[SETTINGS], request.app[HUB].clock
    session = Session(
        id=new_id("s-"),
        title=body.title,
        created_at=clock(),
        admission=Admission(body.admission),
        requires_agreement=body.requires_agreement,
        requires_safety_plan=body.requires_safety_plan,
        e2ee=E2eeMode(body.e2ee),
        grace_seconds=settings.grace_seconds,
        max_participants=body.max_participants or settings.max_participants,
        starts_at=body.starts_at.timestamp() if body.starts_at is not None else None,
    )
    if body.agenda is not None:
        session.agenda = [Phase(p.name, p.minutes, FloorMode(p.floor_mode)) for p in body.agenda]
    await request.app[STORE].create(session)
    pid = new_id("f-")
    token = request.app[TOKENS].mint(session.id, pid, body.facilitator_name, "facilitator")
    return web.json_response(
        {
            "id": session.id,
            "facilitator_id": pid,
            "facilitator_token": token,
            "facilitator_url": join_url(request, session.id, token),
        },
        status=201,
    )


async def create_invite(request: web.Request) -> web.Response:
    """Leads invite members to their own session; facilitator and co-facilitator invites take the
    operator key (a co-facilitator's token must never mint the lead's role, nor another lead)."""
    session_id = request.match_info["id"]
    lead = await require_operator_or_lead(request, session_id)
    body: Invite = await _body(request, Invite)
    if lead is not None and body.role != "member":
        raise ApiError("forbidden", "only the operator key mints facilitator and co-facilitator invites")
    session = await load_session(request, session_id)
    if session.ended:
        raise ApiError("conflict", "the session has ended")
    pid = new_id("m-" if body.role == "member" else "f-")
    token = request.app[TOKENS].mint(session_id, pid, body.name, body.role)
    return web.json_response({"id": pid, "token": token, "url": join_url(request, session_id, token)}, status=201)


async def get_session(request: web.Request) -> web.Response:
    session_id = request.match_info["id"]
    await require_operator_or_lead(request, session_id)
    session = await load_session(request, session_id)
    return web.json_response(state_view(session, request.app[HUB].clock(), leads=True))


async def get_attendance(request: web.Request) -> web.Response:
    session_id = request.match_info["id"]
    await require_operator_or_lead(request, session_id)
    return web.json_response(attendance_view(await load_session(request, session_id)))


async def where(request: web.Request) -> web.Response:
    """The node that holds the session, taking it onto this node when no live node holds it."""
    session_id = request.match_info["id"]
    token = _bearer(request)
    if not _is_operator(request, token):
        await _session_claims(request, session_id, token)
    try:
        await request.app[HUB].hold(session_id)
    except Moved as moved:
        if not moved.url:  # this node is stopping and no other holds the session yet: ask another
            return error_response("moved", str(moved), url="")
        return web.json_response({"url": moved.url})
    return web.json_response({"url": request.app[SETTINGS].public_url})


def add_api_routes(app: web.Application) -> None:
    app[FAILED_CREDENTIALS] = RateLimiter(FAILED_CREDENTIALS_PER_SECOND, FAILED_CREDENTIALS_BURST)
    app.router.add_post("/api/sessions", create_session)
    app.router.add_post("/api/sessions/{id}/invites", create_invite)
    app.router.add_get("/api/sessions/{id}", get_session)
    app.router.add_get("/api/sessions/{id}/attendance", get_attendance)
    app.router.add_get("/api/sessions/{id}/where", where)
