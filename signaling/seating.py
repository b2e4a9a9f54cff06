"""Who sits on which socket: seating accepted connections, unseating gone ones, placing them in rooms.

The one owner of the map between Socket.IO connections and the participants of live sessions (the
node-wide ``sockets`` and each session's ``Live.sockets`` and ``Live.placed``). A participant has one
seat and at most one socket in it: a second tab or device takes the seat, a socket that goes away
leaves the seat empty for the grace period. Seating and unseating run inside the session's actor and
are recorded through the hub's own pipeline (``Hub.after``), as a command would be. A room change or
a disconnect that fails here (the socket went away meanwhile) is logged, and is that client's alone.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import TYPE_CHECKING, Any

from rooms import commands as c
from rooms.controller import apply
from rooms.errors import Forbidden, RoomError
from rooms.model import Role, Session
from rooms.views import state_view
from signaling.emits import Emit, audience_room, participant_room
from signaling.live import Live
from signaling.ports import Claims
from signaling.protocol import REPLACED_MESSAGE
from signaling.tasks import Background

if TYPE_CHECKING:
    from signaling.hub import Hub

log = logging.getLogger("hearth.hub")


class Seating:
    """The hub's seats: it runs the domain's side, this keeps the sockets' side in step with it."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.sockets: dict[str, tuple[str, str]] = {}  # socket id -> (session id, participant id)
        self._background = Background()

    # ---- arriving ---------------------------------------------------------------------------

    async def admissible(self, claims: Claims) -> None:
        """Refuse a connection before it is accepted: revoked, elsewhere, ended, removed or full."""
        hub = self.hub
        if await hub.store.is_revoked(claims.session_id, claims.participant_id):
            raise Forbidden("a facilitator removed you from this session")  # only a removal revokes
        live = await hub.hold(claims.session_id)
        trial = copy.deepcopy(live.session)
        apply(trial, claims.participant_id, c.Connect(claims.name, Role(claims.role)), hub.clock())

    async def attach(
        self, socket_id: str, claims: Claims, ice_servers: list[dict[str, Any]], *, speaks_e2ee: bool = False
    ) -> None:
        """Seat an accepted connection; a second connection of the same participant replaces the first.
        ``speaks_e2ee``: the client said it takes part in end-to-end encryption (``auth.e2ee``)."""
        live = await self.hub.hold(claims.session_id)
        await live.actor.call(lambda: self._seat(live, socket_id, claims, ice_servers, speaks_e2ee))

    async def _seat(
        self, live: Live, socket_id: str, claims: Claims, ice_servers: list[dict[str, Any]], speaks_e2ee: bool
    ) -> None:
        hub = self.hub
        if not hub.bus.connected(socket_id):
            return  # it went away before it was seated: there is nothing to undo
        session_id, pid = claims.session_id, claims.participant_id
        old = live.sockets.get(pid)
        replacing = old is not None and old != socket_id
        if old is not None and replacing:  # another tab or device takes the seat: tell the first why
            await hub.send([Emit("replaced", {"message": REPLACED_MESSAGE}, old)])
            await self.drop(live, pid)
        # The awaits above let this socket's own disconnect run; its handler found nothing seated to
        # unseat. Seating it now would leave a dead socket in the seat, so look again: from here on
        # nothing awaits until the socket is in the maps detach reads.
        if not hub.bus.connected(socket_id):
            if replacing:  # the first connection is gone too: the seat is empty, and the session says so
                hub.close_media(live, pid)
                await hub.run_quietly(live, pid, c.Disconnect(), c.SetPublishing(False))
            return
        live.sockets[pid] = socket_id
        self.sockets[socket_id] = (session_id, pid)
        await hub.bus.enter(socket_id, participant_room(session_id, pid))
        now = hub.clock()
        before = live.session.participants.get(pid)
        returning = before is not None and before.present
        try:
            events = apply(live.session, pid, c.Connect(claims.name, Role(claims.role)), now)
        except RoomError as err:
            await self._refuse(live, pid, err)
            return
        log.info("participant connected", extra={"session": session_id, "participant": pid})
        welcome = self._welcome(live.session, pid, now, ice_servers)
        await hub.send([Emit("welcome", welcome, participant_room(session_id, pid))])
        await hub.key_relay.seated(live.session, live.keys, pid, speaks_e2ee)  # before after() counts them
        await hub.after(live, pid, events, now)
        if returning:  # back within the grace period: a fresh receiving connection, same seat
            hub.apply_policy(live)
            live.media.post(lambda: hub.media.subscribe(session_id, pid))

    async def _refuse(self, live: Live, pid: str, err: RoomError) -> None:
        sid = live.sockets.get(pid)
        if sid is not None:
            await self.hub.send([Emit("error", {"code": err.code, "message": err.message}, sid)])
        await self.drop(live, pid)

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

    # ---- in the session ---------------------------------------------------------------------

    async def sync_rooms(self, live: Live) -> None:
        """Move each socket into the one broadcast room its participant's role, status and place allow."""
        bus = self.hub.bus
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
                    await bus.leave(sid, have)
                if have != want and want is not None:
                    await bus.enter(sid, want)
            except Exception:  # the socket went away meanwhile: its disconnect job follows
                log.warning("room change failed", extra={"session": live.session.id, "participant": pid})
            live.placed[sid] = (want, basis)

    # ---- leaving ----------------------------------------------------------------------------

    async def detach(self, socket_id: str) -> None:
        """A socket went away: its participant keeps their seat for the grace period.

        Called from the disconnect handler, which may run inside another job's emit: it only posts
        the job and returns, so it never waits for the actor it may be running in.
        """
        entry = self.sockets.pop(socket_id, None)
        if entry is None:
            return
        live = self.hub.live.get(entry[0])
        if live is not None:
            live.actor.post(lambda: self._unseat(live, socket_id, entry[1]))

    async def _unseat(self, live: Live, socket_id: str, pid: str) -> None:
        if live.sockets.get(pid) != socket_id:
            return  # another connection took the seat meanwhile
        del live.sockets[pid]
        live.placed.pop(socket_id, None)
        log.info("participant disconnected", extra={"session": live.session.id, "participant": pid})
        self.hub.close_media(live, pid)
        await self.hub.run_quietly(live, pid, c.Disconnect(), c.SetPublishing(False))

    async def drop(self, live: Live, pid: str) -> None:
        """Close a participant's socket and free their seat of it (removed, replaced, refused, moved)."""
        sid = live.sockets.pop(pid, None)
        if sid is None:
            return
        live.placed.pop(sid, None)
        self.sockets.pop(sid, None)
        try:
            await self.hub.bus.disconnect(sid)
        except Exception:
            log.warning("disconnect failed", extra={"session": live.session.id, "participant": pid})

    async def send_away(self, live: Live, url: str) -> None:
        """Tell each client where to reconnect (``url``, or "" for wherever it came from) and drop its socket."""
        for pid in list(live.sockets):
            await self.hub.send([Emit("moved", {"url": url}, participant_room(live.session.id, pid))])
            await self.drop(live, pid)

    def empty(self, live: Live) -> None:
        """The session ended: free every seat now, and close the sockets once the last emits are out."""
        socket_ids = list(live.sockets.values())
        for socket_id in socket_ids:
            self.sockets.pop(socket_id, None)
        live.sockets.clear()
        live.placed.clear()
        self._background.start(self._disconnect_soon(socket_ids))

    async def _disconnect_soon(self, socket_ids: list[str]) -> None:
        """Let the acks and ``session.ended`` reach everyone before their sockets close."""
        await asyncio.sleep(0.25)
        for socket_id in socket_ids:
            try:
                await self.hub.bus.disconnect(socket_id)
            except Exception:
                log.warning("disconnect failed after end", extra={"sid": socket_id})
