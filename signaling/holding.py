"""Which sessions this node holds: taking one on first use, and every way of letting it go.

A session's media must live in one place, so one node at a time serves it, under a lease. This module
owns the node's table of live sessions and its ways in and out: taken (lease, then state, then the
previous holder's sockets counted as dropped), ended, released when idle, lost to another node, or let
go of at a graceful stop. ``signaling.keeper`` does the store's part (fenced writes, write-backs, lease
renewal) and tells this module when a lease is lost or a write-back succeeded; what the hub does with
a session while it is held is the hub's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rooms import commands as c
from rooms.controller import apply
from rooms.errors import Conflict, NotFound
from signaling.actor import Mailbox
from signaling.emits import Emit, state_emits
from signaling.keeper import Keeper
from signaling.live import HubSettings, Live
from signaling.ports import MediaGateway, Moved, NodeInfo
from signaling.store import SessionStore

log = logging.getLogger("hearth.hub")

Send = Callable[[list[Emit]], Awaitable[None]]
SendAway = Callable[[Live, str], Awaitable[None]]  # tell a session's clients where to reconnect, drop them


class Holding:
    """This node's live sessions by session id, and the one way each is taken and the ways it is let go."""

    def __init__(
        self,
        store: SessionStore,
        media: MediaGateway,
        clock: Callable[[], float],
        node: NodeInfo,
        settings: HubSettings,
        send: Send,
        send_away: SendAway,
    ) -> None:
        self.store, self.media, self.clock, self.node, self.settings = store, media, clock, node, settings
        self._send, self._send_away = send, send_away
        self.live: dict[str, Live] = {}
        self._taking: dict[str, asyncio.Future[Live]] = {}
        self.keeper = Keeper(store, node, settings, self.live, self._hand_over, self._refresh)
        self.stopping = False  # set by ``shutdown``: from then on this node takes no session

    # ---- taking a session -------------------------------------------------------------------

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

    # ---- letting it go ----------------------------------------------------------------------

    def retire(self, live: Live, reason: Exception) -> bool:
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

    async def end(self, live: Live) -> None:
        """The session ended: stop serving it and let its state expire."""
        self.retire(live, Conflict("the session has ended"))
        try:
            await self.store.expire(live.session.id, self.settings.ended_ttl)
            await self.store.release_lease(live.session.id, self.node.node_id)
        except Exception:
            log.warning("store expiry failed after end", extra={"session": live.session.id})

    async def release_if_idle(self, live: Live) -> None:
        idle = self.clock() - live.last_active > self.settings.idle_release_seconds
        if idle and not live.sockets and not live.dirty and self.retire(live, Moved("")):
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
        if self.retire(live, Moved(url)):
            log.warning("lease lost to another node", extra={"session": live.session.id})
            await self._send_away(live, url)

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
