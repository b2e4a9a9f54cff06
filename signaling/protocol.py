"""Every wire event as a typed, validated message: the contract outside clients rely on.

Client payloads are strict pydantic models (no coercion, no extra keys) so that a wrong type is an
``invalid`` error, never a surprise downstream. ``docs/protocol.md`` is generated from this module
(``python -m signaling.docs``), and so are the browser client's types (``web/wire.d.ts``, by
``python -m signaling.wire_types``); tests keep each in step.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rooms import commands as c
from rooms.agenda import MAX_PHASE_MINUTES, MAX_PHASES
from rooms.breakouts import MAX_BREAKOUT_MINUTES
from rooms.errors import Invalid
from rooms.model import MAX_PARTICIPANTS, FloorMode, Phase
from rooms.safety import MAX_PLAN_CHARS
from rooms.signals import MAX_NOTE_CHARS
from rooms.turns import MAX_TURN_SECONDS

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_TRANSPORT_BYTES = 1024 * 1024
MAX_SDP_CHARS = 60_000

ERROR_CODES = ("invalid", "forbidden", "not_found", "conflict", "rate_limited", "unauthorized", "moved", "internal")

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=MAX_NOTE_CHARS)]
PlanText = Annotated[str, Field(min_length=1, max_length=MAX_PLAN_CHARS)]
Seconds = Annotated[float, Field(gt=0, le=MAX_TURN_SECONDS)]
Sdp = Annotated[str, Field(min_length=1, max_length=MAX_SDP_CHARS)]
GroupIndex = Annotated[int, Field(ge=0, le=MAX_PARTICIPANTS - 1)]


class Message(BaseModel):
    """Base of every client payload: strict types, unknown keys refused, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Empty(Message):
    """No fields."""


class Target(Message):
    id: Id


class RemovePayload(Message):
    id: Id
    reason: Annotated[str, Field(max_length=200)] = ""


class PhaseIn(Message):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    minutes: Annotated[float, Field(gt=0, le=MAX_PHASE_MINUTES)]
    floor_mode: Literal["open", "hands", "strict", "pairs"]


class AgendaSetPayload(Message):
    phases: Annotated[list[PhaseIn], Field(min_length=1, max_length=MAX_PHASES)]


class PhaseSetPayload(Message):
    index: Annotated[int, Field(ge=0, le=100)]


class FloorGrantPayload(Message):
    id: Id
    turn_seconds: Seconds | None = None


class FloorNextPayload(Message):
    turn_seconds: Seconds | None = None


class GoAroundStartPayload(Message):
    order: Annotated[list[Id], Field(max_length=50)] | None = None
    turn_seconds: Seconds | None = None


class MediaStatePayload(Message):
    audio: bool
    video: bool


class MediaReceivePayload(Message):
    video: bool  # false: audio only, for a weak link (the server stops forwarding video to this client)


TileSize = Literal["large", "small", "hidden"]  # ``signaling.ports.TILE_SIZES``


class MediaViewPayload(Message):
    """How large the page shows each other participant's video (by participant id): a simulcast
    publisher's lowest layer is enough for a small or hidden tile. Participants not named: no hint."""

    sizes: Annotated[dict[Id, TileSize], Field(max_length=MAX_PARTICIPANTS)]


class NotePayload(Message):
    to: Id
    text: Text


class SafetySharePayload(Message):
    location: PlanText
    contact: PlanText
    callback: Annotated[str, Field(max_length=MAX_PLAN_CHARS)] = ""  # how to reach them if the call drops


class SafetyAskPayload(Message):
    id: Id | None = None


class SideStartPayload(Message):
    id: Id  # the member taken aside
    # The facilitator who goes aside (default: the sender); naming another is the facilitator's alone.
    with_: Id | None = Field(default=None, alias="with")


class SideEndPayload(Message):
    id: Id | None = None  # the member whose side room ends (default: the sender's own side room)


class BreakoutStartPayload(Message):
    minutes: Annotated[float, Field(gt=0, le=MAX_BREAKOUT_MINUTES)]
    groups: (
        Annotated[
            list[Annotated[list[Id], Field(min_length=1, max_length=MAX_PARTICIPANTS)]],
            Field(min_length=1, max_length=MAX_PARTICIPANTS),
        ]
        | None
    ) = None
    size: Literal[2, 3] | None = None  # without groups: the main room's members shuffled (default pairs)

    @model_validator(mode="after")
    def _groups_or_size(self) -> BreakoutStartPayload:
        if self.groups is not None and self.size is not None:
            raise ValueError("give either groups or size, not both")
        return self


class BreakoutVisitPayload(Message):
    group: GroupIndex
    mode: Literal["listen", "speak"] = "listen"  # listen: the group sees you but does not hear you


class BreakoutMovePayload(Message):
    id: Id
    group: GroupIndex | None  # null: back to the main room


class BroadcastPayload(Message):
    text: Text


class PublishPayload(Message):
    sdp: Sdp
    type: Literal["offer"]


class AnswerPayload(Message):
    sdp: Sdp
    type: Literal["answer"]
    revision: Annotated[int, Field(ge=0)]


# ---- End-to-end encrypted media: public keys and wrapped keys only; the server reads neither ----

MAX_KEY_ID = 2**32 - 1  # key ids are 32-bit (the SFrame header's KID); 0 means "in the clear"
MAX_WRAPPED_CHARS = 128  # base64url of IV (12) + media key (16) + GCM tag (16) is 59 characters
_B64URL = r"^[A-Za-z0-9_-]+$"
Coordinate = Annotated[str, Field(min_length=43, max_length=43, pattern=_B64URL)]  # 32 bytes, base64url


class PublicKeyJwk(Message):
    """An ECDH P-256 public key as WebCrypto exports it (JWK), its private half never leaving the page."""

    kty: Literal["EC"]
    crv: Literal["P-256"]
    x: Coordinate
    y: Coordinate


class E2eeKeyPayload(Message):
    jwk: PublicKeyJwk | None  # null: this browser cannot encrypt media (no encoded transforms)


def speaks_e2ee(auth: dict[str, Any]) -> bool:
    """The Socket.IO ``auth`` payload's ``e2ee``: true from a client that takes part in end-to-end
    encryption (it sends ``e2ee.key`` on every welcome). Absent or false: the client counts as one
    that cannot encrypt, from its welcome on (an outside client that knows nothing of e2ee)."""
    value = auth.get("e2ee", False)
    if not isinstance(value, bool):
        raise Invalid("auth e2ee must be true or false")
    return value


class WrappedKey(Message):
    to: Id
    # base64url(IV || AES-GCM(media key)) under a key agreed between the sender's and `to`'s key pairs;
    # null with key_id 0: "send and receive in the clear" (a `preferred` session with a browser that
    # cannot encrypt)
    wrapped: Annotated[str, Field(min_length=16, max_length=MAX_WRAPPED_CHARS, pattern=_B64URL)] | None


class E2eeGrantPayload(Message):
    key_id: Annotated[int, Field(ge=0, le=MAX_KEY_ID)]
    grants: Annotated[list[WrappedKey], Field(min_length=1, max_length=MAX_PARTICIPANTS)]

    @model_validator(mode="after")
    def _clear_or_wrapped(self) -> E2eeGrantPayload:
        if any((g.wrapped is None) != (self.key_id == 0) for g in self.grants):
            raise ValueError("key_id 0 goes with wrapped null (in the clear), any other key id with a wrapped key")
        if len({g.to for g in self.grants}) != len(self.grants):
            raise ValueError("one grant per participant")
        return self


def _agenda(p: AgendaSetPayload) -> c.SetAgenda:
    return c.SetAgenda(tuple(Phase(x.name, x.minutes, FloorMode(x.floor_mode)) for x in p.phases))


def _go_around(p: GoAroundStartPayload) -> c.StartGoAround:
    return c.StartGoAround(tuple(p.order) if p.order is not None else None, p.turn_seconds)


def _seed() -> int:
    """The shuffle's randomness, drawn here: ``rooms`` is pure and takes its seed in the command."""
    return secrets.randbits(64)


def _breakout(p: BreakoutStartPayload) -> c.StartBreakout:
    groups = tuple(tuple(g) for g in p.groups) if p.groups is not None else None
    return c.StartBreakout(p.minutes, groups, p.size, _seed())


# Client event -> (payload model, who may send it (documentation), payload -> domain command).
DOMAIN_EVENTS: dict[str, tuple[type[Message], str, Any]] = {
    "agree": (Empty, "anyone waiting", lambda p: c.Agree()),
    "admit": (Target, "facilitators", lambda p: c.Admit(p.id)),
    "admit.all": (Empty, "facilitators", lambda p: c.AdmitAll()),
    "deny": (Target, "facilitators", lambda p: c.Deny(p.id)),
    "remove": (RemovePayload, "facilitators", lambda p: c.Remove(p.id, p.reason)),
    "lobby.send": (Target, "facilitators", lambda p: c.SendToLobby(p.id)),
    "lock": (Empty, "facilitators", lambda p: c.Lock()),
    "unlock": (Empty, "facilitators", lambda p: c.Unlock()),
    "agenda.set": (AgendaSetPayload, "facilitators", _agenda),
    "phase.next": (Empty, "facilitators", lambda p: c.NextPhase(_seed())),
    "phase.set": (PhaseSetPayload, "facilitators", lambda p: c.SetPhase(p.index, _seed())),
    "hand.raise": (Empty, "members", lambda p: c.RaiseHand()),
    "hand.lower": (Empty, "members", lambda p: c.LowerHand()),
    "floor.grant": (FloorGrantPayload, "facilitators", lambda p: c.GrantFloor(p.id, p.turn_seconds)),
    "floor.next": (FloorNextPayload, "facilitators", lambda p: c.NextFloor(p.turn_seconds)),
    "floor.release": (Empty, "floor holder, facilitators", lambda p: c.ReleaseFloor()),
    "goaround.start": (GoAroundStartPayload, "facilitators", _go_around),
    "turn.pass": (Empty, "the member whose turn it is", lambda p: c.PassTurn()),
    "goaround.stop": (Empty, "facilitators", lambda p: c.StopGoAround()),
    "mute": (Target, "facilitators", lambda p: c.Mute(p.id)),
    "unmute.allow": (Target, "facilitators", lambda p: c.AllowUnmute(p.id)),
    "media.state": (MediaStatePayload, "anyone", lambda p: c.SetMedia(p.audio, p.video)),
    "media.receive": (MediaReceivePayload, "anyone admitted", lambda p: c.SetReceive(p.video)),
    "nod": (Empty, "members", lambda p: c.Nod()),
    "note": (NotePayload, "facilitators, or a member to a facilitator", lambda p: c.Note(p.to, p.text)),
    "help": (Empty, "members", lambda p: c.Help()),
    "help.ack": (Target, "facilitators", lambda p: c.AckHelp(p.id)),
    "safety.share": (
        SafetySharePayload,
        "members (waiting or admitted)",
        lambda p: c.ShareSafetyPlan(p.location, p.contact, p.callback),
    ),
    "safety.ask": (SafetyAskPayload, "facilitators", lambda p: c.AskSafetyPlan(p.id)),
    "end": (Empty, "facilitators", lambda p: c.End()),
    "side.start": (SideStartPayload, "facilitators", lambda p: c.StartSideRoom(p.id, p.with_)),
    "side.end": (
        SideEndPayload,
        "the facilitator in the side room, or the facilitator",
        lambda p: c.EndSideRoom(p.id),
    ),
    "breakout.start": (BreakoutStartPayload, "facilitators", _breakout),
    "breakout.visit": (
        BreakoutVisitPayload,
        "facilitators",
        lambda p: c.VisitGroup(p.group, p.mode == "listen"),
    ),
    "breakout.leave": (Empty, "a facilitator visiting a group", lambda p: c.LeaveGroup()),
    "breakout.move": (BreakoutMovePayload, "facilitators", lambda p: c.MoveToGroup(p.id, p.group)),
    "breakout.broadcast": (BroadcastPayload, "facilitators", lambda p: c.BroadcastToGroups(p.text)),
    "breakout.end": (Empty, "facilitators", lambda p: c.EndBreakout()),
}

MEDIA_EVENTS: dict[str, tuple[type[Message], str]] = {
    "rtc.publish": (PublishPayload, "anyone admitted"),
    "rtc.answer": (AnswerPayload, "anyone admitted"),
    "media.view": (MediaViewPayload, "anyone admitted"),
}

E2EE_EVENTS: dict[str, tuple[type[Message], str]] = {
    "e2ee.key": (E2eeKeyPayload, "anyone (waiting or admitted), on every welcome"),
    "e2ee.grant": (E2eeGrantPayload, "facilitators, to admitted participants of their session"),
}

CLIENT_EVENTS: dict[str, type[Message]] = {
    **{name: spec[0] for name, spec in DOMAIN_EVENTS.items()},
    **{name: spec[0] for name, spec in MEDIA_EVENTS.items()},
    **{name: spec[0] for name, spec in E2EE_EVENTS.items()},
}


# ---- Server -> client payloads (documented and used by tests to check what clients receive) ----


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class PhaseOut(Out):
    index: int
    name: str
    started_at: float | None
    minutes: float
    floor_mode: str
    ends_at: float | None
    elapsed: float | None
    remaining: float | None
    overtime: bool


class FloorOut(Out):
    holder: str
    since: float
    ends_at: float | None
    remaining: float | None  # seconds left as the view was made: time with this, not the local clock


class GoAroundOut(Out):
    order: list[str]
    position: int
    turn_ends_at: float | None
    turn_remaining: float | None


class ParticipantOut(Out):
    id: str
    name: str
    role: str
    status: str
    connected: bool
    hand_raised: bool
    audio: bool
    video: bool
    forced_mute: bool
    audible: bool  # members' views: whether the viewer hears them; facilitators': whether their place does
    stream_ids: list[str]
    listen_only: bool = False  # a facilitator visiting a breakout group to listen: that group does not hear them
    # Only in members' views: where this person is, as the viewer may know it. "here": in the viewer's
    # place; from the main room, "stepped_out" (in a side room) or "in_group" (in a breakout group);
    # from a side room or a group, "elsewhere".
    presence: Literal["here", "stepped_out", "in_group", "elsewhere"] | None = None
    # Only in the facilitators' view: where they are ("main", "side:<member id>", "group:<index>"),
    # attendance figures, whether the member shared a safety plan, and when their connection dropped
    # (null while connected).
    place: str | None = None
    spoke_seconds: float | None = None
    passes: int | None = None
    safety_shared: bool | None = None
    disconnected_at: float | None = None
    help_since: float | None = None  # an open help request, until a facilitator sends `help.ack`
    audio_only: bool | None = None  # chose to receive no video (`media.receive`)


class AgendaPhaseOut(Out):
    name: str
    minutes: float
    floor_mode: str


class GroupOut(Out):
    index: int
    members: list[str]
    visitors: list[str]  # facilitators visiting (each one's `listen_only` is in `participants`)


class BreakoutOut(Out):
    count: int  # how many groups
    ends_at: float  # when everyone returns to the main room
    remaining: float
    warned: bool  # the one-minute warning has gone out
    # Only in the facilitators' view: every group and who is in it, and the breakout's length.
    groups: list[GroupOut] | None = None
    minutes: float | None = None
    started_at: float | None = None


class PlaceOut(Out):
    kind: Literal["main", "group", "side"]
    group: int | None  # the group's index when kind is "group"


class SideRoomOut(Out):
    member: str
    lead: str  # the facilitator with them
    since: float
    back_to: str  # where the member returns: "main" or the "group:<index>" they were taken from


class FacilitatorOut(Out):
    id: str
    name: str
    role: str
    connected: bool


class SessionStateOut(Out):
    id: str
    title: str
    version: int
    now: float  # the server's clock when this view was made; `ends_at`, `since` and `at` times are on it
    starts_at: float | None  # when the session is scheduled to start, if the operator said
    facilitators: list[FacilitatorOut]  # who runs the session (waiting members see this much of the roster)
    status: Literal["open", "live", "ended"]
    locked: bool
    on_hold: bool
    requires_agreement: bool
    requires_safety_plan: bool
    e2ee: Literal["required", "preferred", "off"]  # whether browsers encrypt media end to end
    phase: PhaseOut
    agenda: list[AgendaPhaseOut]
    floor: FloorOut | None
    queue: list[str]
    go_around: GoAroundOut | None
    participants: list[ParticipantOut]
    breakout: BreakoutOut | None = None  # null unless a breakout runs (and always for waiting members)
    place: PlaceOut | None = None  # members' views only: the place this view is of (the viewer's)
    side_rooms: list[SideRoomOut] | None = None  # the facilitators' view only


class YouOut(Out):
    id: str
    name: str
    role: str
    status: str
    safety_shared: bool


class WelcomeOut(Out):
    you: YouOut
    session: SessionStateOut
    ice_servers: list[dict[str, Any]]


class WaitingOut(Out):
    id: str
    name: str
    agreed: bool
    safety_shared: bool
    since: float
    connected: bool
    help_since: float | None


class LobbyOut(Out):
    waiting: list[WaitingOut]


class SpeakingOut(Out):
    levels: dict[str, float]
    active: str | None


class VideoPausedOut(Out):
    # Whose video the server holds back from this participant for now, to keep their audio clear:
    # their link cannot carry it (its estimate, from the browser's REMB and receiver reports). Each
    # comes back by itself, at a keyframe, when the link recovers; an empty list: all is back.
    paused: list[str]
    audio_only: bool  # the link cannot carry even the floor holder's video: audio only for now


class VideoLayersOut(Out):
    # The simulcast layers (RTP stream ids, lowest first) this publisher is to send for now: nobody in
    # the session receives or could use the others. The page sets its encodings' ``active`` to match;
    # a new publication starts with every layer again.
    rids: list[str]


class LinkWeakOut(Out):
    participant_id: str
    paused: int  # how many people's video the server holds back from this member for now
    audio_only: bool  # the member's link carries no video at all now (set by the server, not chosen)


class NodOut(Out):
    from_: str = Field(alias="from")


class NoteOut(Out):
    from_: str = Field(alias="from")
    text: str
    name: str  # the sender's name and role, so a waiting member (who sees no roster) knows who wrote
    role: str


class ParticipationOut(Out):
    spoke: dict[str, float]  # participant id -> seconds spoken in this session


class HelpOut(Out):
    from_: str = Field(alias="from")
    at: float


class HelpAcknowledgedOut(Out):
    id: str  # the member who asked
    by: str  # the facilitator who is on it
    name: str  # that facilitator's name
    at: float


class SafetySharedOut(Out):
    from_: str = Field(alias="from")
    location: str
    contact: str
    callback: str  # "" when the member gave none
    at: float


class SafetyAskedOut(Out):
    pass


class BreakoutWarningOut(Out):
    ends_at: float  # one minute left: then everyone returns to the main room


class BreakoutBroadcastOut(Out):
    from_: str = Field(alias="from")
    name: str  # the facilitator's name
    text: str
    at: float


class RtcOfferOut(Out):
    sdp: str
    type: Literal["offer"]
    revision: int


class E2eeKeysOut(Out):
    holder: str | None  # the facilitator who distributes the media key (null: none can yet)
    # participant id -> public key JWK; null: cannot encrypt (said so, or connected without `auth.e2ee`),
    # listed only while connected
    keys: dict[str, dict[str, str] | None]
    # whose key just came, on each welcome (null when the holder changed or someone left): the holder
    # sends them the current media key again, in case a reconnection made them miss its grant
    from_: str | None = Field(alias="from")


class E2eeClearOut(Out):
    # why: "no_key_holder", every facilitator present cannot encrypt (a `preferred` session), so media
    # goes in the clear until a facilitator who can arrives and grants a key
    reason: Literal["no_key_holder"]


class E2eeGrantOut(Out):
    from_: str = Field(alias="from")
    from_key: dict[str, str]  # the sender's public key JWK, as the server has it (the code shows a swap)
    key_id: int
    wrapped: str | None  # null with key_id 0: media goes in the clear


class RemovedOut(Out):
    reason: str


class EndedOut(Out):
    at: float


class ErrorOut(Out):
    code: str
    message: str


class MovedOut(Out):
    url: str  # "" when the client should reconnect where it was (this node is stopping)


class ReplacedOut(Out):
    message: str  # what the replaced page tells the person: REPLACED_MESSAGE


# Said to a participant's older connection when a newer one (another tab or device) takes the seat.
REPLACED_MESSAGE = "You joined from another tab or device."


class AckOut(Out):
    ok: bool
    error: ErrorOut | None = None


SERVER_EVENTS: dict[str, tuple[type[Out], str]] = {
    "welcome": (WelcomeOut, "the new connection"),
    "session.state": (
        SessionStateOut,
        "everyone connected (waiting members get a view without the room; members in a side room or a"
        " breakout group get their place's view)",
    ),
    "lobby": (LobbyOut, "facilitators"),
    "speaking": (SpeakingOut, "everyone admitted, at most 5 times a second"),
    "participation": (
        ParticipationOut,
        "facilitators, when speaking time is recorded (every few seconds while anyone speaks, and with any"
        " change of state); `session.state` carries the same figures but is not sent for speaking alone",
    ),
    "nod": (NodOut, "the current speaker and facilitators"),
    "note": (NoteOut, "one participant"),
    "help": (HelpOut, "facilitators"),
    "help.acknowledged": (HelpAcknowledgedOut, "the member who asked, and facilitators"),
    "safety.shared": (SafetySharedOut, "facilitators connected now (never stored)"),
    "safety.asked": (SafetyAskedOut, "one member, or every member present"),
    "breakout.warning": (BreakoutWarningOut, "members in a breakout group, and facilitators"),
    "breakout.broadcast": (
        BreakoutBroadcastOut,
        "members in a breakout group, and facilitators (never stored)",
    ),
    "rtc.offer": (RtcOfferOut, "one participant"),
    "video.paused": (VideoPausedOut, "one participant, whenever what the server holds back from them changes"),
    "video.layers": (
        VideoLayersOut,
        "one simulcast publisher, whenever the layers it is asked to send change (once nobody has needed a layer"
        " for a while, or at once when one is needed again)",
    ),
    "link.weak": (
        LinkWeakOut,
        "facilitators, whenever the video the server holds back from a member (their weak link) changes",
    ),
    "e2ee.keys": (
        E2eeKeysOut,
        "facilitators, whenever a public key, who cannot encrypt, or the key holder changes",
    ),
    "e2ee.grant": (E2eeGrantOut, "one admitted participant"),
    "e2ee.clear": (
        E2eeClearOut,
        "one admitted participant with a public key, in a `preferred` session where no facilitator present"
        " can hold the media key: send and receive in the clear until a grant comes",
    ),
    "removed": (RemovedOut, "one participant, who is then disconnected"),
    "session.ended": (EndedOut, "everyone"),
    "moved": (
        MovedOut,
        "everyone connected, before their socket closes: another node holds the session now (connect to"
        ' `url`), or this node is stopping (`url` is "": reconnect to the address first used, in a moment)',
    ),
    "error": (ErrorOut, "one connection the session refused after connecting, before its socket closes"),
    "replaced": (
        ReplacedOut,
        "a participant's older connection, before its socket closes: the same participant connected again"
        " (another tab or device) and that connection has the seat now; the client does not reconnect by"
        " itself (connecting again takes the seat back)",
    ),
}


def ok(**result: Any) -> dict[str, Any]:
    return {"ok": True, **result}


def error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}
