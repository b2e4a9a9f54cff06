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
    # Practice in pairs: entering the phase sends the members of the main room into breakout groups of
    # two (``rooms.breakouts``) for the phase's minutes; the main room itself is as in ``open``.
    PAIRS = "pairs"


class Admission(StrEnum):
    LOBBY = "lobby"
    OPEN = "open"


class E2eeMode(StrEnum):
    """Whether media is end-to-end encrypted in the browsers (the server forwards what it cannot read).

    ``required``: always; a browser that cannot encrypt waits and is told why. ``preferred``: when
    every admitted browser can, else in the clear for everyone. ``off``: never.
    """

    REQUIRED = "required"
    PREFERRED = "preferred"
    OFF = "off"


DEFAULT_E2EE = E2eeMode.PREFERRED


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
# A breakout gives the groups this much warning before they return to the main room.
BREAKOUT_WARNING_SECONDS = 60.0
# A side room whose facilitator's connection has dropped ends after this long, for the same reason a
# dropped holder's floor passes on: a blip is back within seconds, and the member must never be left
# alone in a silent room.
SIDE_ROOM_DROP_HOLD_SECONDS = FLOOR_DROP_HOLD_SECONDS

# Where an admitted participant is: exactly one place at a time, as a plain string so a participant
# stays a record of immutable scalars (``rooms.codec`` relies on it). ``MAIN`` is the main room; a side
# room is named after its member (``side:<member id>``); a breakout group by its index
# (``group:<index>``). ``rooms.places`` holds the rules of moving between them.
MAIN = "main"
SIDE_PREFIX = "side:"
GROUP_PREFIX = "group:"


def side_place(member_id: str) -> str:
    return SIDE_PREFIX + member_id


def group_place(index: int) -> str:
    return f"{GROUP_PREFIX}{index}"


def group_of(place: str) -> int | None:
    """The breakout group's index for a group place; ``None`` for the main room and side rooms."""
    return int(place[len(GROUP_PREFIX) :]) if place.startswith(GROUP_PREFIX) else None


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
    place: str = MAIN  # kept through a drop, so a return within the grace period puts them back there
    listen_only: bool = False  # a facilitator visiting a breakout group to listen: not heard there
    receive_video: bool = True  # False: audio only (a weak link); the media layer forwards them no video

    @property
    def present(self) -> bool:
        """Admitted and still in the room (connected, or within the drop grace period)."""
        return self.status is Status.ADMITTED

    @property
    def away(self) -> bool:
        """In a side room or a breakout group: the main room's floor, queue and go-around wait for them."""
        return self.place != MAIN

    @property
    def stream_ids(self) -> list[str]:
        """The msid stream ids this participant's tracks carry in the server's offers."""
        return [stream_id_for(self.id)] if self.publishing else []


def stream_id_for(participant_id: str) -> str:
    """One stable media stream id per participant, so clients map video to people without lookups."""
    return f"hearth-{participant_id}"


@dataclass
class SideRoom:
    """A facilitator and one member, aside: they hear and see each other and nobody else.

    ``back_to`` is where the member returns when it ends (the main room, or the breakout group they
    were taken from while that breakout lasts); the facilitator always returns to the main room.
    """

    member: str
    lead: str
    since: float
    back_to: str = MAIN


@dataclass
class Breakout:
    """Members practising in groups (``group:0`` .. ``group:<groups-1>``) until ``ends_at``.

    Who is in which group is each participant's ``place``, the one record of where anyone is; the
    breakout keeps the number of groups and the timer. ``warned`` once the one-minute warning went out.
    """

    groups: int
    minutes: float
    started_at: float
    ends_at: float
    warned: bool = False


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
    e2ee: E2eeMode = DEFAULT_E2EE
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
    side_rooms: dict[str, SideRoom] = field(default_factory=dict)  # by member id
    breakout: Breakout | None = None

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
        """Whether this participant's audio may be forwarded to anyone in their place right now.

        Forced mute holds everywhere; a facilitator visiting a group to listen is not heard there; the
        strict floor is the main room's, so in a side room or a group everyone present is heard.
        Who receives it is ``rooms.places.hears``: only those in the same place.
        """
        p = self.participants.get(participant_id)
        if p is None or p.status is not Status.ADMITTED or p.forced_mute or p.listen_only:
            return False
        if p.away or self.phase.floor_mode is not FloorMode.STRICT or p.role.leads:
            return True
        return self.floor is not None and self.floor.holder == participant_id
