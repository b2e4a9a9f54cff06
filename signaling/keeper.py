"""Keeping this node's sessions in the store: fenced saves, write-backs after an outage, leases.

The hub writes each change through before anyone sees it, so another node can take over. The store
refuses a write from a node that no longer holds the session's lease (fencing), and this module
decides what a refusal means: after a store restart (no state, no lease) our copy is the
authoritative one and is written back; when another node holds the lease, the session is theirs,
and ``signaling.holding`` is told to hand its clients over (``on_lost``). A store that hangs never
holds up a session: after one failure, writes go to one background write-back per session until it
answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from signaling.live import HubSettings, Live
from signaling.ports import Moved, NodeInfo
from signaling.store import SessionStore, StaleVersion
from signaling.tasks import Background

log = logging.getLogger("hearth.keeper")

Lost = Callable[[Live, str], Awaitable[None]]  # (the session, where it is now: a url, or "")
Restored = Callable[[Live], Awaitable[None]]


class Keeper:
    def __init__(
        self,
        store: SessionStore,
        node: NodeInfo,
        settings: HubSettings,
        live: dict[str, Live],
        on_lost: Lost,
        on_restored: Restored,
    ) -> None:
        self.store, self.node, self.settings, self.live = store, node, settings, live
        self.on_lost, self.on_restored = on_lost, on_restored
        self._background = Background()

    async def save(self, live: Live) -> None:
        """Write the session through (fenced); raises ``Moved`` when another node holds it now."""
        if live.dirty:  # the store failed a moment ago: the write-back, off the session's path, retries
            self.write_back_soon(live)
            return
        try:
            await self.store.save(live.session, live.saved_version, holder=self.node.node_id)
            live.saved_version = live.session.version
        except StaleVersion:  # the store lost the session (a restart), or another node holds it now
            await self.reclaim(live)
        except Exception:  # the store is unreachable: keep serving from memory, write back in the background
            live.dirty = True
            log.warning("store save failed; will write back", extra={"session": live.session.id})
            self.write_back_soon(live)

    async def reclaim(self, live: Live) -> None:
        """The store refused or missed our writes. Free or ours, the lease is (re)taken and our copy,
        the authoritative one, written back; held by another node, the session is theirs: hand over
        (``Moved``). Fencing: the store checks the lease in the same step as each write."""
        session_id, me = live.session.id, self.node.node_id
        lease = await self.store.acquire_lease(session_id, me, self.node.url, self.settings.lease_ttl)
        if lease.node_id != me:
            await self.on_lost(live, lease.url)
            raise Moved(lease.url)
        version = live.session.version  # what the store will hold: the copy is taken before any await
        if not await self.store.restore(live.session, holder=me):
            stored = await self.store.load(session_id)
            if stored is None or stored.version != version:
                log.warning("a newer copy was written elsewhere", extra={"session": session_id})
                await self.on_lost(live, "")
                await self.store.release_lease(session_id, me)  # so the clients' reconnect can load it
                raise Moved("")
        live.saved_version = version
        live.dirty = live.session.version != version

    def write_back_soon(self, live: Live) -> None:
        """One write-back at a time per session, outside its actor: a store that hangs (a partition,
        not a refusal) never holds up the session, only this task, for the store's own timeout."""
        if not live.writing_back and self.live.get(live.session.id) is live:
            live.writing_back = True
            self._background.start(self._write_back(live))

    async def _write_back(self, live: Live) -> None:
        try:
            await self.reclaim(live)
        except Moved:
            return
        except Exception:
            live.dirty = True
            return
        finally:
            live.writing_back = False
        log.info("state written back after store outage", extra={"session": live.session.id})
        await self.on_restored(live)

    async def renew_leases(self) -> None:
        """Keep our leases; a lease lost to another node (after a partition or a pause) hands its
        clients over at once, whatever the session's actor is doing."""
        await asyncio.gather(*(self._renew(live) for live in list(self.live.values())))

    async def _renew(self, live: Live) -> None:
        session_id, me = live.session.id, self.node.node_id
        try:
            if await self.store.renew_lease(session_id, me, self.settings.lease_ttl):
                return
            lease = await self.store.acquire_lease(session_id, me, self.node.url, self.settings.lease_ttl)
        except Exception:
            log.warning("lease renewal failed", extra={"session": session_id})
            return
        if lease.node_id != me:
            await self.on_lost(live, lease.url)
        elif live.dirty:
            self.write_back_soon(live)
