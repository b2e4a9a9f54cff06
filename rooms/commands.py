"""One frozen dataclass per command the controller understands.

Participant commands come from the wire (one per client event); system commands (``Connect``,
``Disconnect``, ``RecordSpeaking``, ``SetPublishing``) come from the server itself and are never
reachable by a client.
"""

from __future__ import annotations

from dataclasses import dataclass

from rooms.model import Phase, Role


@dataclass(frozen=True)
class Connect:
    """A participant's connection arrived (first join or a reconnect)."""

    name: str
    role: Role


@dataclass(frozen=True)
class Disconnect:
    """A participant's connection dropped; the seat is kept for the grace period."""


@dataclass(frozen=True)
class Agree:
    pass


@dataclass(frozen=True)
class Admit:
    id: str


@dataclass(frozen=True)
class AdmitAll:
    pass


@dataclass(frozen=True)
class Deny:
    id: str


@dataclass(frozen=True)
class Remove:
    id: str
    reason: str = ""


@dataclass(frozen=True)
class SendToLobby:
    id: str


@dataclass(frozen=True)
class Lock:
    pass


@dataclass(frozen=True)
class Unlock:
    pass


@dataclass(frozen=True)
class SetAgenda:
    phases: tuple[Phase, ...]


@dataclass(frozen=True)
class NextPhase:
    seed: int = 0  # shuffles the pairs when the new phase is a ``pairs`` one (see ``StartBreakout``)


@dataclass(frozen=True)
class SetPhase:
    index: int
    seed: int = 0


@dataclass(frozen=True)
class RaiseHand:
    pass


@dataclass(frozen=True)
class LowerHand:
    pass


@dataclass(frozen=True)
class GrantFloor:
    id: str
    turn_seconds: float | None = None


@dataclass(frozen=True)
class NextFloor:
    turn_seconds: float | None = None


@dataclass(frozen=True)
class ReleaseFloor:
    pass


@dataclass(frozen=True)
class StartGoAround:
    order: tuple[str, ...] | None = None
    turn_seconds: float | None = None


@dataclass(frozen=True)
class PassTurn:
    pass


@dataclass(frozen=True)
class StopGoAround:
    pass


@dataclass(frozen=True)
class Mute:
    id: str


@dataclass(frozen=True)
class AllowUnmute:
    id: str


@dataclass(frozen=True)
class SetMedia:
    audio: bool
    video: bool


@dataclass(frozen=True)
class SetReceive:
    """What a participant wants to receive: ``video=False`` is audio-only mode, for a weak link."""

    video: bool


@dataclass(frozen=True)
class Nod:
    pass


@dataclass(frozen=True)
class Note:
    to: str
    text: str


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class AckHelp:
    """A facilitator has seen a member's help request and is on it: the member is told."""

    id: str


@dataclass(frozen=True)
class ShareSafetyPlan:
    """A member's current location and emergency contact, for the facilitators' eyes only; and,
    optionally, how to reach the member if the call drops (their own phone, say)."""

    location: str
    contact: str
    callback: str = ""


@dataclass(frozen=True)
class AskSafetyPlan:
    """Ask one member (or, with no id, every member present) to share their emergency plan again."""

    id: str | None = None


@dataclass(frozen=True)
class End:
    pass


@dataclass(frozen=True)
class StartSideRoom:
    """Take member ``id`` aside, with ``with_id`` (a facilitator or co-facilitator) or the actor."""

    id: str
    with_id: str | None = None


@dataclass(frozen=True)
class EndSideRoom:
    """End member ``id``'s side room, or, with no id, the one the actor is in."""

    id: str | None = None


@dataclass(frozen=True)
class StartBreakout:
    """Send members into groups for ``minutes``: the given ``groups``, or the main room's members
    shuffled into groups of ``size``.

    ``seed`` orders the shuffle. ``rooms`` takes no randomness from anywhere (it is pure, and tests
    must be repeatable): the signaling layer draws the seed from ``secrets`` when it builds the
    command, and tests pass their own.
    """

    minutes: float
    groups: tuple[tuple[str, ...], ...] | None = None
    size: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class VisitGroup:
    """A facilitator joins breakout group ``group``: to listen only (not heard there), or to speak."""

    group: int
    listen_only: bool = True


@dataclass(frozen=True)
class LeaveGroup:
    """A visiting facilitator returns to the main room."""


@dataclass(frozen=True)
class MoveToGroup:
    """Put member ``id`` in breakout group ``group``, or back in the main room (``None``)."""

    id: str
    group: int | None


@dataclass(frozen=True)
class BroadcastToGroups:
    """A line of text to every breakout group at once; delivered, never stored."""

    text: str


@dataclass(frozen=True)
class EndBreakout:
    pass


@dataclass(frozen=True)
class SetPublishing:
    """System: the media layer started or stopped receiving this participant's tracks."""

    publishing: bool


@dataclass(frozen=True)
class RecordSpeaking:
    """System: speaking seconds measured by the media layer since the last record."""

    seconds: tuple[tuple[str, float], ...]


Command = (
    Connect
    | Disconnect
    | Agree
    | Admit
    | AdmitAll
    | Deny
    | Remove
    | SendToLobby
    | Lock
    | Unlock
    | SetAgenda
    | NextPhase
    | SetPhase
    | RaiseHand
    | LowerHand
    | GrantFloor
    | NextFloor
    | ReleaseFloor
    | StartGoAround
    | PassTurn
    | StopGoAround
    | Mute
    | AllowUnmute
    | SetMedia
    | SetReceive
    | Nod
    | Note
    | Help
    | AckHelp
    | End
    | ShareSafetyPlan
    | AskSafetyPlan
    | StartSideRoom
    | EndSideRoom
    | StartBreakout
    | VisitGroup
    | LeaveGroup
    | MoveToGroup
    | BroadcastToGroups
    | EndBreakout
    | SetPublishing
    | RecordSpeaking
)
