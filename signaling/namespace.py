"""The one Socket.IO namespace: authenticate, validate, delegate. No rule lives here.

Every client event is answered through its ack: ``{ok: true, ...}`` or ``{ok: false, error: {code,
message}}``. Unknown events, oversized payloads and schema violations are ``invalid``; rule violations
carry the domain error's code; anything unexpected is ``internal`` and is logged by id only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import socketio
from pydantic import BaseModel, ValidationError

from rooms.errors import RoomError
from signaling import protocol as wire
from signaling.hub import Hub
from signaling.limits import RateLimiter
from signaling.ports import Authenticator, Claims, MediaError, Moved, Unauthorized
from signaling.tasks import Background

log = logging.getLogger("hearth.signaling")

ErrorHook = Callable[[str, str], None]


class HearthNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(
        self,
        hub: Hub,
        auth: Authenticator,
        ice_servers: list[dict[str, Any]],
        limiter: RateLimiter | None = None,
        on_error: ErrorHook | None = None,
        on_event: Callable[[str], None] | None = None,
        namespace: str = "/",
    ) -> None:
        super().__init__(namespace)
        self.hub, self.auth, self.ice_servers = hub, auth, ice_servers
        self.limiter = limiter if limiter is not None else RateLimiter()
        self.on_error = on_error or (lambda event, code: None)
        self.on_event = on_event or (lambda event: None)
        self._background = Background()

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            return await self.on_connect(*args[:3])
        if event == "disconnect":
            return await self.on_disconnect(args[0])
        return await self.handle(args[0], event, args[1:])

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Refuse with ``{code, message[, url]}`` before accepting; seat the participant right after."""
        try:
            token = auth.get("token") if isinstance(auth, dict) else None
            if not isinstance(token, str):
                raise Unauthorized("a join token is required")
            speaks_e2ee = wire.speaks_e2ee(auth)
            claims = self.auth.verify(token)
            await self.hub.admissible(claims)
        except Unauthorized as err:
            raise _refusal("unauthorized", str(err)) from None
        except Moved as err:
            raise _refusal("moved", str(err), url=err.url) from None
        except RoomError as err:
            raise _refusal(err.code, err.message) from None
        # Seat the participant after this handler returns, so the client has its CONNECT before any emit.
        self._background.start(self._attach(sid, claims, speaks_e2ee))

    async def _attach(self, sid: str, claims: Claims, speaks_e2ee: bool) -> None:
        try:
            await self.hub.attach(sid, claims, self.ice_servers, speaks_e2ee=speaks_e2ee)
        except Exception:
            log.exception("attach failed", extra={"session": claims.session_id})
            await self.disconnect(sid)

    async def on_disconnect(self, sid: str) -> None:
        self.limiter.forget(sid)
        await self.hub.detach(sid)

    async def handle(self, sid: str, event: str, args: tuple[Any, ...]) -> dict[str, Any]:
        self.on_event(event if event in wire.CLIENT_EVENTS else "unknown")
        try:
            return await self._handle(sid, event, args)
        except (RoomError, MediaError) as err:
            return self._error(event, err.code, err.message)
        except Moved as err:
            return self._error(event, "moved", str(err)) | {"url": err.url}
        except Exception:
            log.exception("event failed", extra={"event": event[:40], "sid": sid})
            return self._error(event, "internal", "something went wrong on the server")

    def _error(self, event: str, code: str, message: str) -> dict[str, Any]:
        self.on_error(event if event in wire.CLIENT_EVENTS else "unknown", code)
        return wire.error(code, message)

    async def _handle(self, sid: str, event: str, args: tuple[Any, ...]) -> dict[str, Any]:
        if sid not in self.hub.sockets:
            return self._error(event, "unauthorized", "not joined to a session")
        if not self.limiter.allow(sid, self.hub.clock()):
            return self._error(event, "rate_limited", "too many events; slow down")
        payload = self._parse(event, args)
        if isinstance(payload, dict):
            return payload
        session_id, pid = self.hub.sockets[sid]
        if event in wire.DOMAIN_EVENTS:
            command = wire.DOMAIN_EVENTS[event][2](payload)
            await self.hub.run(session_id, pid, command)
            return wire.ok()
        if isinstance(payload, wire.E2eeKeyPayload):
            jwk = payload.jwk.model_dump() if payload.jwk is not None else None
            await self.hub.share_media_key(sid, jwk)
            return wire.ok()
        if isinstance(payload, wire.E2eeGrantPayload):
            await self.hub.grant_media_key(sid, payload.key_id, [(g.to, g.wrapped) for g in payload.grants])
            return wire.ok()
        if isinstance(payload, wire.MediaViewPayload):
            await self.hub.set_view(sid, dict(payload.sizes))
            return wire.ok()
        if isinstance(payload, wire.PublishPayload):
            return wire.ok(sdp=await self.hub.publish(sid, payload.sdp), type="answer")
        assert isinstance(payload, wire.AnswerPayload)
        await self.hub.answer(sid, payload.sdp, payload.revision)
        return wire.ok()

    def _parse(self, event: str, args: tuple[Any, ...]) -> BaseModel | dict[str, Any]:
        """The typed payload, or the ``invalid`` ack to send instead."""
        model = wire.CLIENT_EVENTS.get(event)
        if model is None:
            return self._error(event, "invalid", "unknown event")
        if len(args) > 1:
            return self._error(event, "invalid", "one payload object expected")
        data = args[0] if args else {}
        try:
            size = len(json.dumps(data, separators=(",", ":")))
        except (TypeError, ValueError, RecursionError):
            return self._error(event, "invalid", "payload is not JSON")
        if size > wire.MAX_PAYLOAD_BYTES:
            return self._error(event, "invalid", f"payload over {wire.MAX_PAYLOAD_BYTES} bytes")
        try:
            return model.model_validate(data)
        except (ValidationError, RecursionError) as err:
            return self._error(event, "invalid", _summary(err))


def _refusal(code: str, message: str, **extra: str) -> Exception:
    """A connect refusal: the client's ``connect_error`` gets ``{code, message[, url]}`` as its data."""
    refusal: Exception = socketio.exceptions.ConnectionRefusedError(
        message, {"code": code, "message": message, **extra}
    )
    return refusal


def _summary(err: Exception) -> str:
    """A short, content-free description of what failed validation (field names, not values)."""
    if isinstance(err, ValidationError):
        first = err.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(x) for x in first["loc"]) or "payload"
        return f"{where}: {first['msg']}"[:200]
    return "payload is nested too deeply"
