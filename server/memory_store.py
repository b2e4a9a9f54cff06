"""The embedded default store: one process, nothing on disk, every entry with an expiry time.

It implements ``signaling.store.SessionStore`` and passes the same contract tests as
``server.redis_store.RedisStore``. It keeps copies, not the caller's objects, so a save really is a
save. It has no clock of its own: the server injects one.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable

from rooms.codec import session_from_dict, session_to_dict
from rooms.errors import Conflict
from rooms.model import Session
from signaling.store import DEFAULT_STATE_TTL, MAX_AUDIT_RECORDS, AuditRecord, Lease, LeaseLost, StaleVersion

_AuditRow = tuple[float, str, str, str | None]  # (at, actor, action, target)


class MemoryStore:
    """The embedded default: one process, nothing on disk, every entry with an expiry time."""

    def __init__(self, clock: Callable[[], float], state_ttl: float = DEFAULT_STATE_TTL) -> None:
        self._clock = clock
        self._ttl = state_ttl
        self._sessions: dict[str, tuple[dict[str, object], float]] = {}
        self._leases: dict[str, Lease] = {}
        self._revoked: dict[tuple[str, str], float] = {}
        # Records kept as plain tuples of str/float/None: the cyclic GC untracks such tuples, so a long
        # audit log (up to MAX_AUDIT_RECORDS per session) never lengthens the full-collection pauses.
        self._audit: dict[str, tuple[deque[_AuditRow], float]] = {}

    def _alive(self, expires_at: float) -> bool:
        return self._clock() < expires_at

    async def create(self, session: Session) -> None:
        entry = self._sessions.get(session.id)
        if entry is not None and self._alive(entry[1]):
            raise Conflict(f"session {session.id} exists")
        self._sessions[session.id] = (session_to_dict(session), self._clock() + self._ttl)

    async def load(self, session_id: str) -> Session | None:
        entry = self._sessions.get(session_id)
        if entry is None or not self._alive(entry[1]):
            self._sessions.pop(session_id, None)
            return None
        return session_from_dict(copy.deepcopy(entry[0]))

    def _fence(self, session_id: str, holder: str | None) -> None:
        if holder is not None:
            lease = self._leases.get(session_id)
            if lease is None or lease.node_id != holder or not self._alive(lease.expires_at):
                raise LeaseLost(f"node {holder} does not hold session {session_id}")

    async def save(self, session: Session, expected_version: int, holder: str | None = None) -> None:
        self._fence(session.id, holder)
        entry = self._sessions.get(session_id := session.id)
        stored = entry[0]["version"] if entry is not None and self._alive(entry[1]) else None
        if stored != expected_version:
            raise StaleVersion(f"session {session_id} is at version {stored}, not {expected_version}")
        expires = entry[1] if entry is not None else self._clock() + self._ttl
        self._sessions[session_id] = (session_to_dict(session), max(expires, self._clock() + 1.0))

    async def restore(self, session: Session, holder: str | None = None) -> bool:
        self._fence(session.id, holder)
        entry = self._sessions.get(session.id)
        alive = entry is not None and self._alive(entry[1])
        if alive and entry is not None and int(str(entry[0]["version"])) >= session.version:
            return False
        # Like the Redis script: an existing key keeps its TTL (an ended session's short life stays short).
        expires = entry[1] if alive and entry is not None else self._clock() + self._ttl
        self._sessions[session.id] = (session_to_dict(session), expires)
        return True

    async def expire(self, session_id: str, ttl_seconds: float) -> None:
        until = self._clock() + ttl_seconds
        if session_id in self._sessions:
            data, _ = self._sessions[session_id]
            self._sessions[session_id] = (data, until)
        if session_id in self._audit:
            self._audit[session_id] = (self._audit[session_id][0], until)
        for key in [k for k in self._revoked if k[0] == session_id]:
            self._revoked[key] = min(self._revoked[key], until)

    async def acquire_lease(self, session_id: str, node_id: str, url: str, ttl_seconds: float) -> Lease:
        current = self._leases.get(session_id)
        if current is not None and self._alive(current.expires_at) and current.node_id != node_id:
            return current
        lease = Lease(session_id, node_id, url, self._clock() + ttl_seconds)
        self._leases[session_id] = lease
        return lease

    async def renew_lease(self, session_id: str, node_id: str, ttl_seconds: float) -> bool:
        current = self._leases.get(session_id)
        if current is None or current.node_id != node_id or not self._alive(current.expires_at):
            return False
        self._leases[session_id] = Lease(session_id, node_id, current.url, self._clock() + ttl_seconds)
        return True

    async def release_lease(self, session_id: str, node_id: str) -> None:
        current = self._leases.get(session_id)
        if current is not None and current.node_id == node_id:
            del self._leases[session_id]

    async def lease(self, session_id: str) -> Lease | None:
        current = self._leases.get(session_id)
        return current if current is not None and self._alive(current.expires_at) else None

    async def revoke(self, session_id: str, participant_id: str, ttl_seconds: float) -> None:
        self._revoked[(session_id, participant_id)] = self._clock() + ttl_seconds

    async def is_revoked(self, session_id: str, participant_id: str) -> bool:
        until = self._revoked.get((session_id, participant_id))
        return until is not None and self._alive(until)

    async def append_audit(self, record: AuditRecord, ttl_seconds: float) -> None:
        entry = self._audit.get(record.session_id)
        if entry is None or not self._alive(entry[1]):  # an expired log starts afresh, as a Redis key would
            records: deque[_AuditRow] = deque(maxlen=MAX_AUDIT_RECORDS)  # capped like the Redis stream
        else:
            records = entry[0]
        records.append((record.at, record.actor, record.action, record.target))
        self._audit[record.session_id] = (records, self._clock() + ttl_seconds)

    async def audit(self, session_id: str) -> list[AuditRecord]:
        entry = self._audit.get(session_id)
        if entry is None or not self._alive(entry[1]):
            return []
        return [AuditRecord(session_id, at, actor, action, target) for at, actor, action, target in entry[0]]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def keys(self) -> list[str]:
        """Every live key, Redis-style, so privacy tests can inspect what is kept."""
        now = self._clock()
        keys = [f"session:{k}" for k, (_, t) in self._sessions.items() if t > now]
        keys += [f"audit:{k}" for k, (_, t) in self._audit.items() if t > now]
        return keys
