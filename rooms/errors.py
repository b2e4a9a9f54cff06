"""The small error vocabulary of the domain; each maps one-to-one onto a wire error code."""

from __future__ import annotations


class RoomError(Exception):
    """Base of every rule violation. ``code`` is the wire error code clients see."""

    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Forbidden(RoomError):
    """The actor's role or status does not allow this act."""

    code = "forbidden"


class Invalid(RoomError):
    """The command's arguments make no sense (empty agenda, negative minutes)."""

    code = "invalid"


class NotFound(RoomError):
    """The command names a participant or phase that does not exist."""

    code = "not_found"


class Conflict(RoomError):
    """The command is stale or impossible in the session's current state."""

    code = "conflict"


class RateLimited(RoomError):
    """The actor repeats an act faster than the session allows (nods, help, safety plans)."""

    code = "rate_limited"


def paced(last_at: float | None, now: float, interval: float, message: str) -> float:
    """``now``, to record as the act's time, if ``interval`` seconds have passed since ``last_at``;
    otherwise ``RateLimited(message)``."""
    if last_at is not None and now - last_at < interval:
        raise RateLimited(message)
    return now


class StaleVersion(Conflict):
    """A save carried a version older than the stored one: another writer got there first."""


class LeaseLost(StaleVersion):
    """A save came from a node that no longer holds the session's lease: another node serves it now.

    The store refuses such a write atomically (fencing), so a node that paused past its lease can
    never overwrite what the new holder wrote; the node hands its clients over instead.
    """
