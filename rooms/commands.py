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
    pass


@dataclass(frozen=True)
class SetPhase:
    index: int


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
    | SetPublishing
    | RecordSpeaking
)
