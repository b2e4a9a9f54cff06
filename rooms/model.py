"""The group session as plain data.

Everything here is a dataclass or an enum with no behaviour beyond small derived views, so the
controller can be read as the single place where rules live, and so a session round-trips through
the store (``rooms.codec``) without surprises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    FACILITATOR = "facilitator"
    COFACILITATOR = "cofacilitator"
    MEMBER = "member"

    @property
    def leads(self) -> bool:
        """Facilitators and co-facilitators run the session; members never do."""
        return self is not Role.MEMBER


class Status(StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    LEFT = "left"
    REMOVED = "removed"


class SessionStatus(StrEnum):
    OPEN = "open"
    LIVE = "live"
    ENDED = "ended"


class FloorMode(StrEnum):
    OPEN = "open"
    HANDS = "hands"
    STRICT = "strict"


class Admission(StrEnum):
    LOBBY = "lobby"
    OPEN = "open"


@dataclass(frozen=True)
class Phase:
    name: str
    minutes: float
    floor_mode: FloorMode


DEFAULT_AGENDA: tuple[Phase, ...] = (
    Phase("check-in", 15, FloorMode.OPEN),
    Phase("focused conversation", 25, FloorMode.HANDS),
    Phase("skill-building", 20, FloorMode.HANDS),
    Phase("reflection and peer feedback", 20, FloorMode.HANDS),
    Phase("check-out", 10, FloorMode.OPEN),
)

DEFAULT_GRACE_SECONDS = 60.0
# A floor holder whose connection drops keeps the floor this long (a phone moving between networks
# is back within seconds), then it passes on: in a strict phase nobody else could be heard meanwhile.
FLOOR_DROP_HOLD_SECONDS = 10.0
NOD_INTERVAL_SECONDS = 3.0
HELP_INTERVAL_SECONDS = 5.0
SAFETY_INTERVAL_SECONDS = 2.0
MAX_PARTICIPANTS = 12


@dataclass
class Floor:
    holder: str
    since: float
    ends_at: float | None = None


@dataclass
class GoAround:
    order: list[str]
    position: int
    turn_seconds: float | None
    turn_ends_at: float | None

    @property
    def current(self) -> str | None:
        return self.order[self.position] if 0 <= self.position < len(self.order) else None


@dataclass
class Participant:
    id: str
    name: str
    role: Role
    status: Status = Status.WAITING
    connected: bool = False
    agreed: bool = False
    safety_shared: bool = False  # that they shared an emergency plan this session; never what it said
    audio: bool = False
    video: bool = False
    forced_mute: bool = False
    publishing: bool = False
    waiting_since: float = 0.0
    joined_at: float | None = None
    left_at: float | None = None
    disconnected_at: float | None = None
    last_nod_at: float | None = None
    last_help_at: float | None = None
    last_safety_at: float | None = None
    spoke_seconds: float = 0.0
    passes: int = 0
    help_since: float | None = None  # asked for help and no facilitator has acknowledged it yet
    receive_video: bool = True  # False: audio only (a weak link); the media layer forwards them no video

    @property
    def present(self) -> bool:
        """Admitted and still in the room (connected, or within the drop grace period)."""
        return self.status is Status.ADMITTED

    @property
    def stream_ids(self) -> list[str]:
        """The msid stream ids this participant's tracks carry in the server's offers."""
        return [stream_id_for(self.id)] if self.publishing else []


def stream_id_for(participant_id: str) -> str:
    """One stable media stream id per participant, so clients map video to people without lookups."""
    return f"hearth-{participant_id}"


@dataclass
class Session:
    id: str
    title: str
    created_at: float
    agenda: list[Phase] = field(default_factory=lambda: list(DEFAULT_AGENDA))
    admission: Admission = Admission.LOBBY
    requires_agreement: bool = True
    requires_safety_plan: bool = False
    starts_at: float | None = None  # when the operator scheduled it, to tell those who arrive early
    version: int = 0
    status: SessionStatus = SessionStatus.OPEN
    locked: bool = False
    phase_index: int = 0
    phase_started_at: float | None = None  # the clock starts with the first admission or a phase change
    phase_overtime: bool = False
    floor: Floor | None = None
    queue: list[str] = field(default_factory=list)
    go_around: GoAround | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    max_participants: int = MAX_PARTICIPANTS
    on_hold: bool = False
    hold_since: float | None = None
    ended_at: float | None = None

    @property
    def phase(self) -> Phase:
        return self.agenda[self.phase_index]

    @property
    def ended(self) -> bool:
        return self.status is SessionStatus.ENDED

    def get(self, participant_id: str) -> Participant | None:
        return self.participants.get(participant_id)

    def admitted(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.status is Status.ADMITTED]

    def waiting(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.status is Status.WAITING]

    def leaders_present(self) -> list[Participant]:
        """Facilitators who are admitted and connected: the session is on hold without one."""
        return [p for p in self.admitted() if p.role.leads and p.connected]

    def receives_video(self, participant_id: str) -> bool:
        """Whether the media layer should forward video to this participant (not in audio-only mode)."""
        p = self.participants.get(participant_id)
        return p is not None and p.status is Status.ADMITTED and p.receive_video

    def audible(self, participant_id: str) -> bool:
        """Whether the media layer may forward this participant's audio right now."""
        p = self.participants.get(participant_id)
        if p is None or p.status is not Status.ADMITTED or p.forced_mute:
            return False
        if self.phase.floor_mode is not FloorMode.STRICT or p.role.leads:
            return True
        return self.floor is not None and self.floor.holder == participant_id
