"""Pure mapping from domain events to Socket.IO emits, each with its audience.

Audiences are Socket.IO rooms, so emits work the same across nodes with python-socketio's Redis
manager: per session one room for facilitators, one for admitted members, one for waiting members,
and one per participant for private messages. A waiting member is never in a room that sees the roster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rooms.events import (
    Event,
    HelpAcknowledged,
    HelpRequested,
    LobbyChanged,
    NodSent,
    NoteSent,
    ParticipantRemoved,
    SafetyPlanAsked,
    SafetyPlanShared,
    SessionEnded,
    SpeakingRecorded,
    StateChanged,
)
from rooms.model import Participant, Session, Status
from rooms.views import Audience, lobby_view, participation_view, state_views


def leads_room(session_id: str) -> str:
    return f"s:{session_id}:leads"


def members_room(session_id: str) -> str:
    return f"s:{session_id}:members"


def waiting_room(session_id: str) -> str:
    return f"s:{session_id}:waiting"


def participant_room(session_id: str, participant_id: str) -> str:
    return f"p:{session_id}:{participant_id}"


def audience_room(session_id: str, p: Participant) -> str | None:
    """The one broadcast room a participant's socket belongs in, by role and status."""
    audience = _audience(p)
    return _ROOM_OF[audience](session_id) if audience is not None else None


@dataclass(frozen=True)
class Emit:
    event: str
    data: dict[str, Any]
    room: str


def state_emits(s: Session, now: float) -> list[Emit]:
    """One view per audience; views nobody is connected to receive are not built at all."""
    audiences = set()
    for p in s.participants.values():
        if p.connected:
            audiences.add(_audience(p))
    views = state_views(s, now, [a for a in _AUDIENCE_ORDER if a in audiences])
    return [Emit("session.state", view, _ROOM_OF[audience](s.id)) for audience, view in views.items()]


_AUDIENCE_ORDER = (Audience.LEADS, Audience.MEMBERS, Audience.WAITING)
_ROOM_OF = {Audience.LEADS: leads_room, Audience.MEMBERS: members_room, Audience.WAITING: waiting_room}


def _audience(p: Participant) -> Audience | None:
    """Which view a participant gets, by role and status; left and removed participants get none."""
    status = p.status
    if status is Status.ADMITTED:
        return Audience.LEADS if p.role.leads else Audience.MEMBERS
    return Audience.WAITING if status is Status.WAITING else None


def emits_for(s: Session, events: list[Event], now: float) -> list[Emit]:
    """Everything that must be sent after ``events`` happened, private messages first."""
    out: list[Emit] = []
    for e in events:
        out += _private(s, e)
    if any(isinstance(e, StateChanged) for e in events):
        out += state_emits(s, now)
    if any(isinstance(e, LobbyChanged) for e in events):
        out.append(Emit("lobby", lobby_view(s), leads_room(s.id)))
    if any(isinstance(e, SpeakingRecorded) for e in events):
        out.append(Emit("participation", participation_view(s), leads_room(s.id)))
    for e in events:
        if isinstance(e, SessionEnded):
            # Everyone has left their audience room by now: tell each one privately.
            ended = {"at": e.at}
            out += [Emit("session.ended", ended, participant_room(s.id, pid)) for pid in s.participants]
    return out


def _private(s: Session, e: Event) -> list[Emit]:
    if isinstance(e, NodSent):
        return [Emit("nod", {"from": e.from_id}, participant_room(s.id, to)) for to in e.to]
    if isinstance(e, NoteSent):
        sender = s.participants[e.from_id]
        note = {"from": e.from_id, "text": e.text, "name": sender.name, "role": str(sender.role)}
        return [Emit("note", note, participant_room(s.id, e.to))]
    if isinstance(e, HelpRequested):
        return [Emit("help", {"from": e.from_id, "at": e.at}, leads_room(s.id))]
    if isinstance(e, HelpAcknowledged):
        ack = {"id": e.member_id, "by": e.by_id, "name": s.participants[e.by_id].name, "at": e.at}
        return [
            Emit("help.acknowledged", ack, room) for room in (participant_room(s.id, e.member_id), leads_room(s.id))
        ]
    if isinstance(e, SafetyPlanShared):
        plan = {"from": e.from_id, "location": e.location, "contact": e.contact, "callback": e.callback, "at": e.at}
        return [Emit("safety.shared", plan, leads_room(s.id))]
    if isinstance(e, SafetyPlanAsked):
        return [Emit("safety.asked", {}, participant_room(s.id, to)) for to in e.to]
    if isinstance(e, ParticipantRemoved):
        return [Emit("removed", {"reason": e.reason}, participant_room(s.id, e.id))]
    return []
