"""Every Redis key Hearth writes, named in one place.

A session's keys all carry the session id as a Redis Cluster hash tag (``{<id>}``), so the Lua scripts
that touch several of them at once (``expire``) stay inside one slot, and a cluster keeps one
session's state on one shard. The node-wide prefix comes first and must not contain braces, or the
hash tag would be the prefix instead of the session.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "hearth:"

SESSION = "session:"
"""A hash: ``version`` (for the compare-and-set) and ``body`` (JSON of ``rooms.codec.session_to_dict``)."""

LEASE = "lease:"
"""A string: JSON ``{node_id, url}``; its PTTL is the lease's remaining life."""

REVOKED = "revoked:"
"""A sorted set: participant id scored by the Redis-clock millisecond at which its revocation lapses."""

AUDIT = "audit:"
"""A stream of ``{at, actor, action[, target]}`` entries, capped with ``MAXLEN ~``."""

KINDS = (SESSION, LEASE, REVOKED, AUDIT)


@dataclass(frozen=True)
class RedisKeys:
    """Builds the keys of one deployment (``prefix``) so tests can run side by side on one Redis."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if "{" in self.prefix or "}" in self.prefix:
            raise ValueError("a Redis key prefix must not contain braces: they would become the hash tag")

    def _key(self, kind: str, session_id: str) -> str:
        return f"{self.prefix}{kind}{{{session_id}}}"

    def session(self, session_id: str) -> str:
        return self._key(SESSION, session_id)

    def lease(self, session_id: str) -> str:
        return self._key(LEASE, session_id)

    def revoked(self, session_id: str) -> str:
        return self._key(REVOKED, session_id)

    def audit(self, session_id: str) -> str:
        return self._key(AUDIT, session_id)

    def of_session(self, session_id: str) -> list[str]:
        """Every key a session can own, for ``expire`` and for privacy tests."""
        return [self._key(kind, session_id) for kind in KINDS]

    def pattern(self) -> str:
        """A SCAN pattern that matches every key of this deployment, and nothing of another prefix."""
        escaped = "".join(f"\\{c}" if c in "*?[]\\" else c for c in self.prefix)
        return f"{escaped}*"
