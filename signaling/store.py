"""The store port: where sessions live between commands, which node holds each, and what is kept.

The signaling layer owns this interface (the consumer owns the port, as with ``signaling.ports``); the
server implements it twice: ``server.memory_store.MemoryStore``, the embedded default, and
``server.redis_store.RedisStore`` for many nodes, and both pass the same contract tests
(``tests/store``). It is not in ``rooms/``: leases with node URLs, TTLs, revocations that outlive a
process and ``ping``/``close`` are I/O-shaped, while ``rooms/`` is the pure domain of one session.

The port is split by concern, so a reader sees which part a consumer leans on: ``SessionStates``
(versioned, fenced saves), ``Leases`` (which node holds a live session), ``Revocations`` (removed
members stay out, on every node), ``AuditLog`` (who did what, never what was said) and ``Reachable``
(readiness, shutdown). ``SessionStore`` is all of them, what an adapter implements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rooms.errors import Conflict
from rooms.model import Session

# How long a session's state outlives its last change, and an ended session's state is kept (seconds);
# the settings' defaults (``server.config``) and both adapters read these.
DEFAULT_STATE_TTL = 24 * 3600.0
DEFAULT_ENDED_TTL = 3600.0
# Audit records kept per session, oldest dropped first (a capped Redis stream, a bounded deque).
MAX_AUDIT_RECORDS = 10_000


class StaleVersion(Conflict):
    """A save carried a version older than the stored one: another writer got there first."""


class LeaseLost(StaleVersion):
    """A save came from a node that no longer holds the session's lease: another node serves it now.

    The store refuses such a write atomically (fencing), so a node that paused past its lease can
    never overwrite what the new holder wrote; the node hands its clients over instead.
    """


@dataclass(frozen=True)
class Lease:
    """Which node holds a live session (its media must live in one place), and until when."""

    session_id: str
    node_id: str
    url: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who did what to whom, and when. Never what was said."""

    session_id: str
    at: float
    actor: str
    action: str
    target: str | None = None


class SessionStates(Protocol):
    """Each session's state, versioned: a save that lost a race is refused, never merged."""

    async def create(self, session: Session) -> None:
        """Store a new session; ``Conflict`` if the id exists."""

    async def load(self, session_id: str) -> Session | None: ...

    async def save(self, session: Session, expected_version: int, holder: str | None = None) -> None:
        """Store ``session`` if the stored version still is ``expected_version``, else ``StaleVersion``.

        Given ``holder`` (a node id), also only while that node holds the session's lease, else
        ``LeaseLost``, checked in the same atomic step as the version: fencing, so a node that paused
        past its lease can never overwrite what the new holder wrote.
        """

    async def restore(self, session: Session, holder: str | None = None) -> bool:
        """Write ``session`` back when the stored copy is missing or older (after a store outage).

        Never overwrites a newer version; returns whether it wrote. ``holder`` fences as in ``save``.
        """

    async def expire(self, session_id: str, ttl_seconds: float) -> None:
        """Shorten the life of every key of a session (after it ended)."""


class Leases(Protocol):
    """Which node holds a live session: its media must live in one place."""

    async def acquire_lease(self, session_id: str, node_id: str, url: str, ttl_seconds: float) -> Lease:
        """Take the lease if free or already ours; return the lease in force (maybe another node's)."""

    async def renew_lease(self, session_id: str, node_id: str, ttl_seconds: float) -> bool: ...

    async def release_lease(self, session_id: str, node_id: str) -> None: ...

    async def lease(self, session_id: str) -> Lease | None: ...


class Revocations(Protocol):
    """Members removed from a session, kept out on every node until the revocation expires."""

    async def revoke(self, session_id: str, participant_id: str, ttl_seconds: float) -> None: ...

    async def is_revoked(self, session_id: str, participant_id: str) -> bool: ...


class AuditLog(Protocol):
    """Who did what to whom, and when, per session (capped at ``MAX_AUDIT_RECORDS``)."""

    async def append_audit(self, record: AuditRecord, ttl_seconds: float) -> None: ...

    async def audit(self, session_id: str) -> list[AuditRecord]: ...


class Reachable(Protocol):
    async def ping(self) -> None:
        """Raise when the store cannot be reached (readiness)."""

    async def close(self) -> None: ...


class SessionStore(SessionStates, Leases, Revocations, AuditLog, Reachable, Protocol):
    """Every concern at once: what an adapter (memory, Redis) implements and the hub is given."""
