"""The sessions this node holds: one lock each, apply -> save -> emit -> audit, in that order.

The hub is the only writer of a live session. It holds a lease on every session it serves (its media
must live in one place), writes each change through to the store so another node can take over, and
turns domain events into emits and side effects (revocation, media policy, teardown). Rules live in
``rooms``; what to send to whom lives in ``signaling.emits``; this module only sequences.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import Conflict, NotFound, RoomError, StaleVersion
from rooms.events import (
    Audited,
    Event,
    MediaPolicyChanged,
    ParticipantLeft,
    ParticipantRemoved,
    SessionEnded,
    StateChanged,
)
from rooms.model import Role, Session, Status
from rooms.permissions import Action, check
from rooms.store import AuditRecord, SessionStore
from rooms.views import state_view
from signaling.emits import Emit, audience_room, emits_for, participant_room, state_emits
from signaling.ports import Claims, ForwardingPolicy, MediaGateway, Moved, NodeInfo, Unauthorized
from signaling.protocol import REPLACED_MESSAGE
from signaling.sockets import SocketBus
from signaling.tasks import Background

log = logging.getLogger("hearth.hub")


@dataclass
class HubSettings:
    lease_ttl: float = 3.0
    revoke_ttl: float = 7 * 24 * 3600.0
    ended_ttl: float = 3600.0
    audit_ttl: float = 30 * 24 * 3600.0
    idle_release_seconds: float = 600.0
    max_sessions: int = 200


@dataclass
class Live:
    """A session held by this node: the authoritative copy while the lease is ours."""

    session: Session
    saved_version: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sockets: dict[str, str] = field(default_factory=dict)  # participant id -> socket id
    # socket id -> (its audience room, the participant's (status, role) that room was chosen for)
    rooms: dict[str, tuple[str | None, tuple[Status, Role] | None]] = field(default_factory=dict)
    policy: ForwardingPolicy | None = None
    dirty: bool = False
    last_active: float = 0.0


class Hub:
    def __init__(
        self,
        bus: SocketBus,
        store: SessionStore,
        media: MediaGateway,
        clock: Callable[[], float],
        node: NodeInfo,
        settings: HubSettings | None = None,
    ) -> None:
        self.bus, self.store, self.media, self.clock, self.node = bus, store, media, clock, node
        self.settings = settings or HubSettings()
        self.live: dict[str, Live] = {}
        self.sockets: dict[str, tuple[str, str]] = {}  # socket id -> (session id, participant id)
        self._taking: dict[str, asyncio.Lock] = {}
        self._background = Background()
        self.stopping = False  # set by ``shutdown``: from then on this node takes no session

    # ---- holding sessions -------------------------------------------------------------------

    async def hold(self, session_id: str) -> Live:
        """Serve a session from this node: take its lease and load it, or say who holds it."""
        live = self.live.get(session_id)
        if live is not None:
            return live
        if self.stopping:  # on its way out: never take a lease it has just let go of
            lease = await self.store.lease(session_id)
            raise Moved(lease.url if lease is not None and lease.node_id != self.node.node_id else "")
        async with self._taking.setdefault(session_id, asyncio.Lock()):
            if session_id in self.live:
                return self.live[session_id]
            if len(self.live) >= self.settings.max_sessions:
                raise Conflict("this node holds as many sessions as it may")
            lease = await self.store.acquire_lease(
                session_id, self.node.node_id, self.node.url, self.settings.lease_ttl
            )
            if lease.node_id != self.node.node_id:
                raise Moved(lease.url)
            session = await self.store.load(session_id)
            if session is None:
                await self.store.release_lease(session_id, self.node.node_id)
                raise NotFound(f"no session {session_id}")
            live = Live(session, saved_version=session.version, last_active=self.clock())
            self._take_over(live)
            self.live[session_id] = live
            log.info("session held", extra={"session": session_id, "node": self.node.node_id})
            return live

    def _take_over(self, live: Live) -> None:
        """Sockets of a previous holder are gone: their owners keep their seats for the grace period."""
        now = self.clock()
        for p in list(live.session.participants.values()):
            if p.connected:
                apply(live.session, p.id, c.Disconnect(), now)
            if p.publishing:
                apply(live.session, p.id, c.SetPublishing(False), now)

    # ---- commands ---------------------------------------------------------------------------

    async def run(self, session_id: str, actor_id: str, command: c.Command) -> list[Event]:
        """Apply one command under the session's lock and carry out everything that follows."""
        live = await self.hold(session_id)
        async with live.lock:
            now = self.clock()
            events = apply(live.session, actor_id, command, now)
            await self._after(live, actor_id, events, now)
            return events

    async def check(self, socket_id: str, action: Action) -> tuple[Live, str]:
        """The live session and participant behind a socket, if they may do ``action``."""
        session_id, pid = self.sockets[socket_id]
        live = await self.hold(session_id)
        check(live.session.participants.get(pid), action)
        return live, pid

    async def _after(self, live: Live, actor_id: str, events: list[Event], now: float) -> None:
        if not events:
            return
        live.last_active = now
        if any(isinstance(e, StateChanged) for e in events):
            await self._save(live)  # before any emit: nobody sees a state another node could not load
        await self._sync_rooms(live)
        await self._send(emits_for(live.session, events, now))
        await self._audit(live.session.id, actor_id, events, now)  # a record, not state: off the delivery path
        await self._side_effects(live, events)

    async def _save(self, live: Live) -> None:
        try:
            await self.store.save(live.session, live.saved_version)
            live.saved_version, live.dirty = live.session.version, False
        except StaleVersion:
            await self._write_back(live)
        except Exception:  # the store is unreachable: keep serving from memory, write back on tick
            live.dirty = True
            log.warning("store save failed; will write back", extra={"session": live.session.id})

    async def _write_back(self, live: Live) -> None:
        """After a store outage the stored copy may be missing or behind: ours is authoritative."""
        if not await self.store.restore(live.session):
            stored = await self.store.load(live.session.id)
            if stored is None or stored.version != live.session.version:
                raise StaleVersion(f"session {live.session.id} was written by another node")
        live.saved_version, live.dirty = live.session.version, False

    async def _audit(self, session_id: str, actor_id: str, events: list[Event], now: float) -> None:
        for e in events:
            if isinstance(e, Audited):
                record = AuditRecord(session_id, now, actor_id, e.action, e.target)
                try:
                    await self.store.append_audit(record, self.settings.audit_ttl)
                except Exception:
                    log.warning("audit append failed", extra={"session": session_id})

    async def _sync_rooms(self, live: Live) -> None:
        """Move each socket into the one broadcast room its participant's role and status allow."""
        participants = live.session.participants
        for pid, sid in live.sockets.items():
            p = participants.get(pid)
            basis = (p.status, p.role) if p is not None else None
            placed = live.rooms.get(sid)
            if placed is not None and placed[1] == basis:
                continue  # the usual case: nobody's role or status changed
            want = audience_room(live.session.id, p) if p is not None else None
            have = placed[0] if placed is not None else None
            if have != want and have is not None:
                await self.bus.leave(sid, have)
            if have != want and want is not None:
                await self.bus.enter(sid, want)
            live.rooms[sid] = (want, basis)

    async def _send(self, emits: list[Emit]) -> None:
        for e in emits:
            await self.bus.emit(e.event, e.data, e.room)

    async def _side_effects(self, live: Live, events: list[Event]) -> None:
        s = live.session
        for e in events:
            if isinstance(e, ParticipantRemoved):
                await self.store.revoke(s.id, e.id, self.settings.revoke_ttl)
                await self._drop_socket(live, e.id)
            elif isinstance(e, ParticipantLeft):
                await self.media.close_participant(s.id, e.id)
        if any(isinstance(e, MediaPolicyChanged) for e in events):
            await self._apply_policy(live)
        if any(isinstance(e, SessionEnded) for e in events):
            await self._close(live)

    async def _apply_policy(self, live: Live) -> None:
        s = live.session
        members = frozenset(p.id for p in s.admitted())
        policy = ForwardingPolicy(members, frozenset(pid for pid in members if s.audible(pid)))
        if policy != live.policy:
            live.policy = policy
            await self.media.set_policy(s.id, policy)

    async def _drop_socket(self, live: Live, pid: str) -> None:
        sid = live.sockets.pop(pid, None)
        if sid is None:
            return
        live.rooms.pop(sid, None)
        self.sockets.pop(sid, None)
        await self.bus.disconnect(sid)

    async def _close(self, live: Live) -> None:
        """The session ended: disconnect everyone, tear down media, let the state expire."""
        s = live.session
        sids = list(live.sockets.values())
        for sid in sids:
            self.sockets.pop(sid, None)
        live.sockets.clear()
        live.rooms.clear()
        self._background.start(self._disconnect_soon(sids))
        await self.media.close_session(s.id)
        self.live.pop(s.id, None)
        try:
            await self.store.expire(s.id, self.settings.ended_ttl)
            await self.store.release_lease(s.id, self.node.node_id)
        except Exception:
            log.warning("store expiry failed after end", extra={"session": s.id})

    async def _disconnect_soon(self, sids: list[str]) -> None:
        """Let the acks and ``session.ended`` reach everyone before their sockets close."""
        await asyncio.sleep(0.25)
        for sid in sids:
            await self.bus.disconnect(sid)

    # ---- sockets ----------------------------------------------------------------------------

    async def admissible(self, claims: Claims) -> None:
        """Refuse a connection before it is accepted: revoked, elsewhere, ended, removed or full."""
        if await self.store.is_revoked(claims.session_id, claims.participant_id):
            raise Unauthorized("this link is no longer valid")
        live = await self.hold(claims.session_id)
        trial = copy.deepcopy(live.session)
        apply(trial, claims.participant_id, c.Connect(claims.name, Role(claims.role)), self.clock())

    async def attach(self, socket_id: str, claims: Claims, ice_servers: list[dict[str, Any]]) -> None:
        """Seat an accepted connection; a second connection of the same participant replaces the first."""
        live = await self.hold(claims.session_id)
        pid = claims.participant_id
        async with live.lock:
            old = live.sockets.get(pid)
            if old is not None and old != socket_id:
                await self.bus.emit("replaced", {"message": REPLACED_MESSAGE}, old)
                await self._drop_socket(live, pid)
            live.sockets[pid] = socket_id
            self.sockets[socket_id] = (claims.session_id, pid)
            await self.bus.enter(socket_id, participant_room(claims.session_id, pid))
            now = self.clock()
            before = live.session.participants.get(pid)
            returning = before is not None and before.present
            try:
                events = apply(live.session, pid, c.Connect(claims.name, Role(claims.role)), now)
            except RoomError as err:
                await self._refuse(live, pid, err)
                return
            await self.bus.emit(
                "welcome", self._welcome(live.session, pid, now, ice_servers), participant_room(claims.session_id, pid)
            )
            await self._after(live, pid, events, now)
            if returning:  # back within the grace period: a fresh receiving connection, same seat
                await self._apply_policy(live)
                await self.media.subscribe(claims.session_id, pid)

    async def _refuse(self, live: Live, pid: str, err: RoomError) -> None:
        sid = live.sockets.get(pid)
        if sid is not None:
            await self.bus.emit("error", {"code": err.code, "message": err.message}, sid)
        await self._drop_socket(live, pid)

    def _welcome(self, s: Session, pid: str, now: float, ice_servers: list[dict[str, Any]]) -> dict[str, Any]:
        p = s.participants[pid]
        view = state_view(s, now, leads=p.role.leads, admitted=p.present)
        # Whether they shared a safety plan this session: a reloaded waiting room need not ask again.
        you = {
            "id": p.id,
            "name": p.name,
            "role": str(p.role),
            "status": str(p.status),
            "safety_shared": p.safety_shared,
        }
        return {"you": you, "session": view, "ice_servers": ice_servers}

    async def detach(self, socket_id: str) -> None:
        """A socket went away: its participant keeps their seat for the grace period."""
        entry = self.sockets.pop(socket_id, None)
        if entry is None:
            return
        session_id, pid = entry
        live = self.live.get(session_id)
        if live is None:
            return
        async with live.lock:
            if live.sockets.get(pid) != socket_id:
                return
            del live.sockets[pid]
            live.rooms.pop(socket_id, None)
            await self.media.close_participant(session_id, pid)
            now = self.clock()
            events = apply(live.session, pid, c.Disconnect(), now)
            events += apply(live.session, pid, c.SetPublishing(False), now)
            await self._after(live, pid, events, now)

    # ---- timers -----------------------------------------------------------------------------

    async def tick_all(self) -> None:
        """Expire timers, record speaking time, retry failed writes, release idle sessions."""
        for live in list(self.live.values()):
            async with live.lock:
                now = self.clock()
                events = tick(live.session, now)
                spoke = self.media.take_spoke_seconds(live.session.id)
                if spoke and not live.session.ended:
                    events += apply(live.session, "", c.RecordSpeaking(tuple(spoke.items())), now)
                await self._after(live, "", events, now)
                if live.dirty:
                    await self._retry_write(live)
            await self._release_if_idle(live)

    async def _retry_write(self, live: Live) -> None:
        try:
            await self._write_back(live)
        except Exception:
            live.dirty = True
            return
        log.info("state written back after store outage", extra={"session": live.session.id})
        # Emits may travel through the store's pub/sub too: refresh everyone's view in case one was lost.
        await self._send(state_emits(live.session, self.clock()))

    async def _release_if_idle(self, live: Live) -> None:
        idle = self.clock() - live.last_active > self.settings.idle_release_seconds
        if idle and not live.sockets and not live.dirty and self.live.get(live.session.id) is live:
            self.live.pop(live.session.id, None)
            await self.media.close_session(live.session.id)
            await self.store.release_lease(live.session.id, self.node.node_id)

    async def renew_leases(self) -> None:
        """Keep our leases; a lease lost to another node (after a partition) hands its clients over."""
        for live in list(self.live.values()):
            sid = live.session.id
            try:
                if await self.store.renew_lease(sid, self.node.node_id, self.settings.lease_ttl):
                    continue
                lease = await self.store.acquire_lease(sid, self.node.node_id, self.node.url, self.settings.lease_ttl)
            except Exception:
                log.warning("lease renewal failed", extra={"session": sid})
                continue
            if lease.node_id != self.node.node_id:
                await self._hand_over(live, lease.url)
            elif live.dirty:
                await self._retry_write(live)

    async def _hand_over(self, live: Live, url: str) -> None:
        log.warning("lease lost to another node", extra={"session": live.session.id})
        self.live.pop(live.session.id, None)
        await self._send_away(live, url)

    async def _send_away(self, live: Live, url: str) -> None:
        """Tell each client where to reconnect (``url``, or "" for wherever it came from), drop its
        socket, and close the session's media on this node."""
        for pid in list(live.sockets):
            await self.bus.emit("moved", {"url": url}, participant_room(live.session.id, pid))
            await self._drop_socket(live, pid)
        await self.media.close_session(live.session.id)

    # ---- media ------------------------------------------------------------------------------

    async def publish(self, socket_id: str, sdp: str) -> str:
        live, pid = await self.check(socket_id, Action.PUBLISH)
        answer = await self.media.publish(live.session.id, pid, sdp)
        await self.run(live.session.id, pid, c.SetPublishing(True))
        return answer

    async def answer(self, socket_id: str, sdp: str, revision: int) -> None:
        live, pid = await self.check(socket_id, Action.ANSWER)
        await self.media.answer(live.session.id, pid, sdp, revision)

    async def shutdown(self) -> None:
        """Graceful stop: write each session back and let go of its lease, then tell its clients to
        reconnect. In that order, a client that comes straight back (through a load balancer, to
        another node) finds the session free to take, instead of still held by this node; and from
        the start this node takes no session again (``hold`` answers ``moved``)."""
        self.stopping = True
        for live in list(self.live.values()):
            if live.dirty:
                await self._retry_write(live)
            self.live.pop(live.session.id, None)  # commands from here on are answered ``moved``
            try:
                await self.store.release_lease(live.session.id, self.node.node_id)
            except Exception:
                log.warning("lease release failed at shutdown", extra={"session": live.session.id})
            await self._send_away(live, "")
        self.live.clear()
