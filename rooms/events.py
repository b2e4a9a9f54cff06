"""Domain events: what happened, as facts the signaling layer turns into emits and audit records.

No event carries what a member wrote except ``NoteSent`` (a note's text), ``SafetyPlanShared`` (a
location and an emergency contact) and ``GroupsBroadcast`` (a facilitator's line to the breakout
groups), which are delivered and forgotten: the signaling layer never writes them anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StateChanged:
    """The session's public state changed; everyone's view must be refreshed."""


@dataclass(frozen=True)
class SpeakingRecorded:
    """Speaking time was added to the attendance record: it is saved, and the facilitators' figures
    refreshed (``participation``), without refreshing everyone's whole view. A group always has a
    speaker, so a full state per recording would be most of a session's traffic and store writes."""


@dataclass(frozen=True)
class LobbyChanged:
    """Someone arrived in, left, or was let out of the waiting room."""


@dataclass(frozen=True)
class MediaPolicyChanged:
    """Who may be heard or who is in the room changed; the forwarder must be told."""


@dataclass(frozen=True)
class ParticipantLeft:
    """A participant's attendance ended (left, grace expired, denied or removed)."""

    id: str


@dataclass(frozen=True)
class ParticipantRemoved:
    """A facilitator sent a participant away; their token must be revoked and the socket closed."""

    id: str
    reason: str


@dataclass(frozen=True)
class NodSent:
    from_id: str
    to: tuple[str, ...]


@dataclass(frozen=True)
class NoteSent:
    from_id: str
    to: str
    text: str


@dataclass(frozen=True)
class HelpRequested:
    from_id: str
    at: float


@dataclass(frozen=True)
class HelpAcknowledged:
    """A facilitator took up a member's help request: the member and the other facilitators are told."""

    member_id: str
    by_id: str
    at: float


@dataclass(frozen=True)
class SafetyPlanShared:
    """Delivered to the facilitators connected now; the session keeps only ``safety_shared``.
    ``callback`` is empty when the member gave no way to reach them if the call drops."""

    from_id: str
    location: str
    contact: str
    at: float
    callback: str = ""


@dataclass(frozen=True)
class SafetyPlanAsked:
    to: tuple[str, ...]


@dataclass(frozen=True)
class SessionEnded:
    at: float


@dataclass(frozen=True)
class BreakoutWarned:
    """One minute left: the groups are told they will soon return to the main room."""

    ends_at: float


@dataclass(frozen=True)
class GroupsBroadcast:
    """A facilitator's line to every breakout group; delivered to those in a group and the
    facilitators, never stored."""

    from_id: str
    text: str
    at: float


@dataclass(frozen=True)
class Audited:
    """A facilitator's act worth an audit record: who did what to whom, never what was said."""

    action: str
    target: str | None = None


Event = (
    StateChanged
    | SpeakingRecorded
    | LobbyChanged
    | MediaPolicyChanged
    | ParticipantLeft
    | ParticipantRemoved
    | NodSent
    | NoteSent
    | HelpRequested
    | HelpAcknowledged
    | SafetyPlanShared
    | SafetyPlanAsked
    | SessionEnded
    | BreakoutWarned
    | GroupsBroadcast
    | Audited
)


def changes_record(events: list[Event]) -> bool:
    """Whether these events change what the store keeps (and so the session's version)."""
    return any(isinstance(e, StateChanged | SpeakingRecorded) for e in events)
