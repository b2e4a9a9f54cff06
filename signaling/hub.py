"""The sessions this node holds, each changed by its own actor: apply -> save -> emit -> audit.

The hub is the only writer of a live session. It holds a lease on every session it serves (its media
must live in one place), writes each change through to the store so another node can take over, and
turns domain events into emits and side effects (revocation, media policy, teardown). Rules live in
``rooms``; what to send to whom lives in ``signaling.emits``; this module only sequences. Which
sessions this node holds (taking, releasing, losing and stopping them) is ``signaling.holding``'s;
which socket sits in which seat, and in which rooms, is ``signaling.seating``'s: the hub owns both,
and both go through this module's ``after`` for what a change sets off.

Each live session has two mailboxes (``signaling.actor``). ``actor`` takes connects, disconnects,
commands and ticks in arrival order; nothing re-enters it from I/O except by posting a job (an emit
can run a timed-out client's disconnect handler in the emitting task). ``media`` carries the
session's media work (policy, publish, answers, teardown) in its own order, so slow or failing media
never holds up a state change and never loses one: a disconnect is recorded before its media is
closed, and a media failure is logged by the mailbox and stays that job's.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import Forbidden, RoomError
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
from rooms.permissions import Action, check
from signaling.emits import Emit, emits_for
from signaling.holding import Holding
from signaling.key_relay import KeyRelay
from signaling.live import HubSettings, Live
from signaling.ports import Claims, ForwardingPolicy, MediaGateway, Moved, NodeInfo
from signaling.seating import Seating
from signaling.sockets import SocketBus
from signaling.store import AuditRecord, SessionStore

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
        self.key_relay = KeyRelay(self.send)  # end-to-end encryption's keys: the hub only dispatches
        self.seating = Seating(self)  # which socket is whose seat, and which rooms it is in
        self.sockets = self.seating.sockets  # socket id -> (session id, participant id)
        self.holding = Holding(store, media, clock, node, self.settings, self.send, self.seating.send_away)
        self.live, self.keeper = self.holding.live, self.holding.keeper

    # ---- holding sessions: ``signaling.holding`` --------------------------------------------

    async def hold(self, session_id: str) -> Live:
        """Serve a session from this node: take its lease and load it, or say who holds it."""
        return await self.holding.hold(session_id)

    async def renew_leases(self) -> None:
        await self.holding.renew_leases()

    async def shutdown(self) -> None:
        """Graceful stop within ``stop_timeout``: each session written back, its lease let go of,
        its clients told to reconnect (``Holding.shutdown``)."""
        await self.holding.shutdown()

    # ---- seating sockets: ``signaling.seating`` ---------------------------------------------

    async def admissible(self, claims: Claims) -> None:
        """Refuse a connection before it is accepted: revoked, elsewhere, ended, removed or full."""
        await self.seating.admissible(claims)

    async def attach(
        self, socket_id: str, claims: Claims, ice_servers: list[dict[str, Any]], *, speaks_e2ee: bool = False
    ) -> None:
        """Seat an accepted connection; a second connection of the same participant replaces the first."""
        await self.seating.attach(socket_id, claims, ice_servers, speaks_e2ee=speaks_e2ee)

    async def detach(self, socket_id: str) -> None:
        """A socket went away: its participant keeps their seat for the grace period."""
        await self.seating.detach(socket_id)

    # ---- commands ---------------------------------------------------------------------------

    async def run(self, session_id: str, actor_id: str, command: c.Command) -> list[Event]:
        """Apply one command in the session's actor and carry out everything that follows."""
        live = await self.hold(session_id)
        return await live.actor.call(lambda: self._apply(live, actor_id, command))

    async def _apply(self, live: Live, actor_id: str, command: c.Command) -> list[Event]:
        now = self.clock()
        events = apply(live.session, actor_id, command, now)
        await self.after(live, actor_id, events, now)
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

    async def after(self, live: Live, actor_id: str, events: list[Event], now: float) -> None:
        """Everything a change sets off, in this order: save, rooms, emits, audit, side effects, the
        key holder. Commands, ticks and ``Seating``'s connects and disconnects all end here."""
        if not events:
            return
        live.last_active = now
        if any(isinstance(e, StateChanged) for e in events):
            events = [*events, *self._record_speaking(live, now)]  # it rides along with the save
        if changes_record(events):
            await self.keeper.save(live)  # before any emit: nobody sees a state another node could not load
        await self.seating.sync_rooms(live)
        await self.send(emits_for(live.session, events, now))
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

    async def send(self, emits: list[Emit]) -> None:
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
                await self.seating.drop(live, e.id)
                self.close_media(live, e.id)
            elif isinstance(e, ParticipantLeft):
                self.close_media(live, e.id)
        if any(isinstance(e, MediaPolicyChanged) for e in events):
            self.apply_policy(live)
        if any(isinstance(e, SessionEnded) for e in events):
            await self._close(live)

    def apply_policy(self, live: Live) -> None:
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

    def close_media(self, live: Live, pid: str) -> None:
        session_id = live.session.id
        live.media.post(lambda: self.media.close_participant(session_id, pid))

    async def _close(self, live: Live) -> None:
        """The session ended: disconnect everyone, tear down media, let the state expire."""
        self.seating.empty(live)
        await self.holding.end(live)

    async def run_quietly(self, live: Live, pid: str, *commands: c.Command) -> None:
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
            await self.after(live, pid, events, now)

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
            await self.after(live, "", events, now)
        except Moved:
            return
        if live.dirty:
            self.keeper.write_back_soon(live)
        await self.holding.release_if_idle(live)

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
            live.actor.post(lambda: self.run_quietly(live, participant_id, c.SetPublishing(False)))

    # ---- end-to-end encryption: public keys and wrapped keys, relayed, never read ---------------

    async def share_media_key(self, socket_id: str, jwk: dict[str, str] | None) -> None:
        """``e2ee.key``: a participant's public key, or that its browser cannot encrypt."""
        live, pid = await self.permitted(socket_id, Action.SHARE_MEDIA_KEY)
        await live.actor.call(lambda: self.key_relay.share(live.session, live.keys, pid, jwk))

    async def grant_media_key(self, socket_id: str, key_id: int, grants: list[tuple[str, str | None]]) -> None:
        """``e2ee.grant``: a media key wrapped for each recipient, relayed by ``KeyRelay.grant``."""
        live, pid = await self.permitted(socket_id, Action.GRANT_MEDIA_KEY)
        await live.actor.call(lambda: self.key_relay.grant(live.session, live.keys, pid, key_id, grants))
