"""The sessions this node holds, each changed by its own actor: apply -> save -> emit -> audit.

The hub is the only writer of a live session. It holds a lease on every session it serves (its media
must live in one place), writes each change through to the store so another node can take over, and
turns domain events into emits and side effects (revocation, media policy, teardown). Rules live in
``rooms``; what to send to whom lives in ``signaling.emits``; this module only sequences.

Each live session has two mailboxes (``signaling.actor``). ``actor`` takes connects, disconnects,
commands and ticks in arrival order; nothing re-enters it from I/O except by posting a job (an emit
can run a timed-out client's disconnect handler in the emitting task). ``media`` carries the
session's media work (policy, publish, answers, teardown) in its own order, so slow or failing media
never holds up a state change and never loses one: a disconnect is recorded before its media is
closed, and a media failure is logged by the mailbox and stays that job's.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import Conflict, Forbidden, NotFound, RoomError
from rooms.events import (
    Audited,
    Event,
    MediaPolicyChanged,
    ParticipantLeft,
    ParticipantRemoved,
    SessionEnded,
    StateChanged,
    changes_record,
)
from rooms.model import Role, Session
from rooms.permissions import Action, check
from rooms.views import state_view
from signaling.actor import Mailbox
from signaling.emits import Emit, audience_room, emits_for, participant_room, state_emits
from signaling.keeper import Keeper
from signaling.key_relay import KeyRelay
from signaling.live import HubSettings, Live
from signaling.ports import Claims, ForwardingPolicy, MediaGateway, Moved, NodeInfo
from signaling.protocol import REPLACED_MESSAGE
from signaling.sockets import SocketBus
from signaling.store import AuditRecord, SessionStore
from signaling.tasks import Background

log = logging.getLogger("hearth.hub")


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
        self._taking: dict[str, asyncio.Future[Live]] = {}
        self._background = Background()
        self.keeper = Keeper(store, node, self.settings, self.live, self._hand_over, self._refresh)
        self.key_relay = KeyRelay(self._send)  # end-to-end encryption's keys: the hub only dispatches
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
        taking = self._taking.get(session_id)
        if taking is None:  # the first caller takes the session; callers meanwhile wait for the same result
            taking = self._taking[session_id] = asyncio.ensure_future(self._take(session_id))
            taking.add_done_callback(lambda done: self._took(session_id, done))
        return await asyncio.shield(taking)

    def _took(self, session_id: str, done: asyncio.Future[Live]) -> None:
        self._taking.pop(session_id, None)
        if not done.cancelled():
            done.exception()  # retrieved here, raised to every waiter by ``shield``

    async def _take(self, session_id: str) -> Live:
        if len(self.live) >= self.settings.max_sessions:
            raise Conflict("this node holds as many sessions as it may")
        lease = await self.store.acquire_lease(session_id, self.node.node_id, self.node.url, self.settings.lease_ttl)
        if lease.node_id != self.node.node_id:
            raise Moved(lease.url)
        session = await self.store.load(session_id)
        if session is None:
            await self.store.release_lease(session_id, self.node.node_id)
            raise NotFound(f"no session {session_id}")
        ids = {"session": session_id}
        live = Live(
            session,
            saved_version=session.version,
            actor=Mailbox("session", ids, self.settings.job_timeout),
            media=Mailbox("media", ids, self.settings.media_job_timeout),
            last_active=self.clock(),
        )
        self._take_over(live)
        self.live[session_id] = live
        if live.dirty:
            self.keeper.write_back_soon(live)
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
        live.dirty = live.session.version != live.saved_version

    def _retire(self, live: Live, reason: Exception) -> bool:
        """This node stops serving the session: its actor takes no more jobs, its media is closed.

        Idempotent; returns whether this call retired it. Jobs still queued are refused with ``reason``.
        """
        if self.live.get(live.session.id) is live:
            self.live.pop(live.session.id)
        if live.actor.closed is not None:
            return False
        live.actor.close(reason, discard_pending=True)
        session_id = live.session.id
        live.media.post(lambda: self.media.close_session(session_id))
        live.media.close(reason)
        return True

    # ---- commands ---------------------------------------------------------------------------

    async def run(self, session_id: str, actor_id: str, command: c.Command) -> list[Event]:
        """Apply one command in the session's actor and carry out everything that follows."""
        live = await self.hold(session_id)
        return await live.actor.call(lambda: self._apply(live, actor_id, command))

    async def _apply(self, live: Live, actor_id: str, command: c.Command) -> list[Event]:
        now = self.clock()
        events = apply(live.session, actor_id, command, now)
        await self._after(live, actor_id, events, now)
        return events

    async def permitted(self, socket_id: str, action: Action) -> tuple[Live, str]:
        """The live session and participant behind a socket, if they may do ``action`` (``Forbidden``
        otherwise, from ``rooms.permissions.check``)."""
        entry = self.sockets.get(socket_id)
        if entry is None:
            raise Forbidden("not joined to a session")
        live = await self.hold(entry[0])
        check(live.session.participants.get(entry[1]), action)
        return live, entry[1]

    async def _after(self, live: Live, actor_id: str, events: list[Event], now: float) -> None:
        if not events:
            return
        live.last_active = now
        if any(isinstance(e, StateChanged) for e in events):
            events = [*events, *self._record_speaking(live, now)]  # it rides along with the save
        if changes_record(events):
            await self.keeper.save(live)  # before any emit: nobody sees a state another node could not load
        await self._sync_rooms(live)
        await self._send(emits_for(live.session, events, now))
        await self._audit(live.session.id, actor_id, events, now)  # a record, not state: off the delivery path
        await self._side_effects(live, events)
        await self.key_relay.follow_holder(live.session, live.keys)

    async def _audit(self, session_id: str, actor_id: str, events: list[Event], now: float) -> None:
        for e in events:
            if isinstance(e, Audited):
                record = AuditRecord(session_id, now, actor_id, e.action, e.target)
                try:
                    await self.store.append_audit(record, self.settings.audit_ttl)
                except Exception:
                    log.warning("audit append failed", extra={"session": session_id})

    async def _sync_rooms(self, live: Live) -> None:
        """Move each socket into the one broadcast room its participant's role, status and place allow."""
        participants = live.session.participants
        for pid, sid in list(live.sockets.items()):
            p = participants.get(pid)
            basis = (p.status, p.role, p.place) if p is not None else None
            placed = live.placed.get(sid)
            if placed is not None and placed[1] == basis:
                continue  # the usual case: nobody's role, status or place changed
            want = audience_room(live.session.id, p) if p is not None else None
            have = placed[0] if placed is not None else None
            try:
                if have != want and have is not None:
                    await self.bus.leave(sid, have)
                if have != want and want is not None:
                    await self.bus.enter(sid, want)
            except Exception:  # the socket went away meanwhile: its disconnect job follows
                log.warning("room change failed", extra={"session": live.session.id, "participant": pid})
            live.placed[sid] = (want, basis)

    async def _send(self, emits: list[Emit]) -> None:
        """Emits are queued per client by python-socketio: none waits on a client, and one client's
        failure (a socket closing under the emit) is that client's alone."""
        for e in emits:
            try:
                await self.bus.emit(e.event, e.data, e.room)
            except Exception:
                log.warning("emit failed", extra={"event": e.event})

    async def _side_effects(self, live: Live, events: list[Event]) -> None:
        s = live.session
        for e in events:
            if isinstance(e, (ParticipantRemoved, ParticipantLeft)):
                await self.key_relay.forget(s, live.keys, e.id)
            if isinstance(e, ParticipantRemoved):
                try:
                    await self.store.revoke(s.id, e.id, self.settings.revoke_ttl)
                except Exception:  # the removal itself stands: the session refuses them by status
                    log.warning("revocation failed", extra={"session": s.id, "participant": e.id})
                await self._drop_socket(live, e.id)
                self._close_media(live, e.id)
            elif isinstance(e, ParticipantLeft):
                self._close_media(live, e.id)
        if any(isinstance(e, MediaPolicyChanged) for e in events):
            self._apply_policy(live)
        if any(isinstance(e, SessionEnded) for e in events):
            await self._close(live)

    def _apply_policy(self, live: Live) -> None:
        s = live.session
        policy = ForwardingPolicy.of(s)  # who hears and sees whom, by place and floor
        if policy != live.policy:
            live.policy = policy
            live.media.post(lambda: self.media.set_policy(s.id, policy))

    def places(self, session_id: str) -> dict[str, str]:
        """Where each admitted participant of a session held here is, for those not in the main room:
        speaking levels go only to those who may hear the speaker (``emits.speaking_emits``)."""
        live = self.live.get(session_id)
        if live is None:
            return {}
        return {p.id: p.place for p in live.session.admitted() if p.away}

    def _close_media(self, live: Live, pid: str) -> None:
        session_id = live.session.id
        live.media.post(lambda: self.media.close_participant(session_id, pid))

    async def _drop_socket(self, live: Live, pid: str) -> None:
        sid = live.sockets.pop(pid, None)
        if sid is None:
            return
        live.placed.pop(sid, None)
        self.sockets.pop(sid, None)
        try:
            await self.bus.disconnect(sid)
        except Exception:
            log.warning("disconnect failed", extra={"session": live.session.id, "participant": pid})

    async def _close(self, live: Live) -> None:
        """The session ended: disconnect everyone, tear down media, let the state expire."""
        s = live.session
        socket_ids = list(live.sockets.values())
        for socket_id in socket_ids:
            self.sockets.pop(socket_id, None)
        live.sockets.clear()
        live.placed.clear()
        self._retire(live, Conflict("the session has ended"))
        self._background.start(self._disconnect_soon(socket_ids))
        try:
            await self.store.expire(s.id, self.settings.ended_ttl)
            await self.store.release_lease(s.id, self.node.node_id)
        except Exception:
            log.warning("store expiry failed after end", extra={"session": s.id})

    async def _disconnect_soon(self, socket_ids: list[str]) -> None:
        """Let the acks and ``session.ended`` reach everyone before their sockets close."""
        await asyncio.sleep(0.25)
        for socket_id in socket_ids:
            try:
                await self.bus.disconnect(socket_id)
            except Exception:
                log.warning("disconnect failed after end", extra={"sid": socket_id})

    # ---- sockets ----------------------------------------------------------------------------

    async def admissible(self, claims: Claims) -> None:
        """Refuse a connection before it is accepted: revoked, elsewhere, ended, removed or full."""
        if await self.store.is_revoked(claims.session_id, claims.participant_id):
            raise Forbidden("a facilitator removed you from this session")  # only a removal revokes
        live = await self.hold(claims.session_id)
        trial = copy.deepcopy(live.session)
        apply(trial, claims.participant_id, c.Connect(claims.name, Role(claims.role)), self.clock())

    async def attach(
        self, socket_id: str, claims: Claims, ice_servers: list[dict[str, Any]], *, speaks_e2ee: bool = False
    ) -> None:
        """Seat an accepted connection; a second connection of the same participant replaces the first.
        ``speaks_e2ee``: the client said it takes part in end-to-end encryption (``auth.e2ee``)."""
        live = await self.hold(claims.session_id)
        await live.actor.call(lambda: self._seat(live, socket_id, claims, ice_servers, speaks_e2ee))

    async def _seat(
        self, live: Live, socket_id: str, claims: Claims, ice_servers: list[dict[str, Any]], speaks_e2ee: bool
    ) -> None:
        if not self.bus.connected(socket_id):
            return  # it went away before it was seated: there is nothing to undo
        session_id, pid = claims.session_id, claims.participant_id
        old = live.sockets.get(pid)
        replacing = old is not None and old != socket_id
        if old is not None and replacing:  # another tab or device takes the seat: tell the first why
            await self._send([Emit("replaced", {"message": REPLACED_MESSAGE}, old)])
            await self._drop_socket(live, pid)
        # The awaits above let this socket's own disconnect run; its handler found nothing seated to
        # unseat. Seating it now would leave a dead socket in the seat, so look again: from here on
        # nothing awaits until the socket is in the maps detach reads.
        if not self.bus.connected(socket_id):
            if replacing:  # the first connection is gone too: the seat is empty, and the session says so
                self._close_media(live, pid)
                await self._run_quietly(live, pid, c.Disconnect(), c.SetPublishing(False))
            return
        live.sockets[pid] = socket_id
        self.sockets[socket_id] = (session_id, pid)
        await self.bus.enter(socket_id, participant_room(session_id, pid))
        now = self.clock()
        before = live.session.participants.get(pid)
        returning = before is not None and before.present
        try:
            events = apply(live.session, pid, c.Connect(claims.name, Role(claims.role)), now)
        except RoomError as err:
            await self._refuse(live, pid, err)
            return
        log.info("participant connected", extra={"session": session_id, "participant": pid})
        welcome = self._welcome(live.session, pid, now, ice_servers)
        await self._send([Emit("welcome", welcome, participant_room(session_id, pid))])
        await self.key_relay.seated(live.session, live.keys, pid, speaks_e2ee)  # before _after counts them
        await self._after(live, pid, events, now)
        if returning:  # back within the grace period: a fresh receiving connection, same seat
            self._apply_policy(live)
            live.media.post(lambda: self.media.subscribe(session_id, pid))

    async def _refuse(self, live: Live, pid: str, err: RoomError) -> None:
        sid = live.sockets.get(pid)
        if sid is not None:
            await self._send([Emit("error", {"code": err.code, "message": err.message}, sid)])
        await self._drop_socket(live, pid)

    def _welcome(self, s: Session, pid: str, now: float, ice_servers: list[dict[str, Any]]) -> dict[str, Any]:
        p = s.participants[pid]
        view = state_view(s, now, leads=p.role.leads, admitted=p.present, place=p.place)
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
        """A socket went away: its participant keeps their seat for the grace period.

        Called from the disconnect handler, which may run inside another job's emit: it only posts
        the job and returns, so it never waits for the actor it may be running in.
        """
        entry = self.sockets.pop(socket_id, None)
        if entry is None:
            return
        live = self.live.get(entry[0])
        if live is not None:
            live.actor.post(lambda: self._unseat(live, socket_id, entry[1]))

    async def _unseat(self, live: Live, socket_id: str, pid: str) -> None:
        if live.sockets.get(pid) != socket_id:
            return  # another connection took the seat meanwhile
        del live.sockets[pid]
        live.placed.pop(socket_id, None)
        log.info("participant disconnected", extra={"session": live.session.id, "participant": pid})
        self._close_media(live, pid)
        await self._run_quietly(live, pid, c.Disconnect(), c.SetPublishing(False))

    async def _run_quietly(self, live: Live, pid: str, *commands: c.Command) -> None:
        """Apply commands that follow from what happened on the wire, not from anyone's request:
        a refusal (the session ended meanwhile) is nobody's error."""
        now = self.clock()
        events: list[Event] = []
        for command in commands:
            try:
                events += apply(live.session, pid, command, now)
            except RoomError:
                continue
        with contextlib.suppress(Moved):  # the session is served elsewhere now: its clients were sent on
            await self._after(live, pid, events, now)

    # ---- timers -----------------------------------------------------------------------------

    async def tick_all(self) -> None:
        """Post a tick to every live session's actor (one at a time each: a busy session is not
        buried under ticks, and never delays another session's)."""
        for live in list(self.live.values()):
            if not live.tick_posted:
                live.tick_posted = True
                self._post_tick(live)

    def _post_tick(self, live: Live) -> None:
        live.actor.post(lambda: self._tick(live))

    async def _tick(self, live: Live) -> None:
        """Expire timers, record speaking time, retry failed writes, release an idle session."""
        live.tick_posted = False
        now = self.clock()
        for pid, seconds in self.media.take_spoke_seconds(live.session.id).items():
            live.speaking[pid] = live.speaking.get(pid, 0.0) + seconds
        events = tick(live.session, now)
        if now - live.speaking_recorded_at >= self.settings.speaking_record_seconds:
            events += self._record_speaking(live, now)
        try:
            await self._after(live, "", events, now)
        except Moved:
            return
        if live.dirty:
            self.keeper.write_back_soon(live)
        await self._release_if_idle(live)

    def _record_speaking(self, live: Live, now: float) -> list[Event]:
        """Speaking time measured since the last record, into the record (``SpeakingRecorded``); what
        was measured after the session ended (at most ``speaking_record_seconds``) is not kept."""
        live.speaking_recorded_at = now
        if not live.speaking:
            return []
        seconds, live.speaking = tuple(live.speaking.items()), {}
        try:
            return apply(live.session, "", c.RecordSpeaking(seconds), now)
        except RoomError:
            return []

    async def _release_if_idle(self, live: Live) -> None:
        idle = self.clock() - live.last_active > self.settings.idle_release_seconds
        if idle and not live.sockets and not live.dirty and self._retire(live, Moved("")):
            try:
                await self.store.release_lease(live.session.id, self.node.node_id)
            except Exception:
                log.warning("lease release failed", extra={"session": live.session.id})

    async def renew_leases(self) -> None:
        await self.keeper.renew_leases()

    async def _refresh(self, live: Live) -> None:
        """After a write-back, everyone's view again, in case an emit was lost while the store was away."""
        await self._send(state_emits(live.session, self.clock()))

    async def _hand_over(self, live: Live, url: str) -> None:
        if self._retire(live, Moved(url)):
            log.warning("lease lost to another node", extra={"session": live.session.id})
            await self._send_away(live, url)

    async def _send_away(self, live: Live, url: str) -> None:
        """Tell each client where to reconnect (``url``, or "" for wherever it came from) and drop its socket."""
        for pid in list(live.sockets):
            await self._send([Emit("moved", {"url": url}, participant_room(live.session.id, pid))])
            await self._drop_socket(live, pid)

    # ---- media ------------------------------------------------------------------------------

    async def publish(self, socket_id: str, sdp: str) -> str:
        live, pid = await self.permitted(socket_id, Action.PUBLISH)
        self.key_relay.check_media(live.session, live.keys, pid)  # required: none from who cannot encrypt
        answer = await live.media.call(lambda: self.media.publish(live.session.id, pid, sdp))
        await self.run(live.session.id, pid, c.SetPublishing(True))
        return answer

    async def answer(self, socket_id: str, sdp: str, revision: int) -> None:
        live, pid = await self.permitted(socket_id, Action.ANSWER)
        await live.media.call(lambda: self.media.answer(live.session.id, pid, sdp, revision))

    async def set_view(self, socket_id: str, sizes: dict[str, str]) -> None:
        """``media.view``: the tile sizes the participant's page shows the others at (simulcast layers)."""
        live, pid = await self.permitted(socket_id, Action.ANSWER)  # anyone admitted, as for rtc.answer
        await live.media.call(lambda: self.media.set_view(live.session.id, pid, sizes))

    async def media_lost(self, session_id: str, participant_id: str, leg: str) -> None:
        """One of a participant's connections died (the media engine has torn it down): a lost
        publishing connection means they no longer publish, until they publish again."""
        live = self.live.get(session_id)
        if live is not None and leg == "publish":
            live.actor.post(lambda: self._run_quietly(live, participant_id, c.SetPublishing(False)))

    # ---- end-to-end encryption: public keys and wrapped keys, relayed, never read ---------------

    async def share_media_key(self, socket_id: str, jwk: dict[str, str] | None) -> None:
        """``e2ee.key``: a participant's public key, or that its browser cannot encrypt."""
        live, pid = await self.permitted(socket_id, Action.SHARE_MEDIA_KEY)
        await live.actor.call(lambda: self.key_relay.share(live.session, live.keys, pid, jwk))

    async def grant_media_key(self, socket_id: str, key_id: int, grants: list[tuple[str, str | None]]) -> None:
        """``e2ee.grant``: a media key wrapped for each recipient, relayed by ``KeyRelay.grant``."""
        live, pid = await self.permitted(socket_id, Action.GRANT_MEDIA_KEY)
        await live.actor.call(lambda: self.key_relay.grant(live.session, live.keys, pid, key_id, grants))

    # ---- stopping ---------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Graceful stop, within ``stop_timeout`` whatever a session is doing: let each session's
        running job finish, write the session back and let go of its lease, then tell its clients to
        reconnect. In that order, a client that comes straight back (through a load balancer, to
        another node) finds the session free to take; and from the start this node takes no session
        again (``hold`` answers ``moved``)."""
        self.stopping = True
        lives = list(self.live.values())
        try:
            async with asyncio.timeout(self.settings.stop_timeout):
                await asyncio.gather(*(self._stop(live) for live in lives))
        except TimeoutError:
            log.error("graceful stop ran out of time", extra={"count": len(lives)})
        self.live.clear()

    async def _stop(self, live: Live) -> None:
        """Each step has its share of the stop's time: a hung store delays the write-back, never the
        clients' ``moved``."""
        share = self.settings.stop_timeout / 4
        live.actor.close(Moved(""))  # jobs already queued still run: a command in flight is answered
        await live.actor.finish(share)
        if live.dirty:
            await self._within(share, self.keeper.reclaim(live), live)
        self.live.pop(live.session.id, None)  # commands from here on are answered ``moved``
        await self._within(share, self.store.release_lease(live.session.id, self.node.node_id), live)
        await self._send_away(live, "")
        session_id = live.session.id
        live.media.post(lambda: self.media.close_session(session_id))
        await live.media.finish(share / 2)

    async def _within(self, seconds: float, work: Awaitable[Any], live: Live) -> None:
        try:
            async with asyncio.timeout(seconds):
                await work
        except Exception:
            log.warning("store write failed at shutdown", extra={"session": live.session.id})
