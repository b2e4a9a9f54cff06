"""Pure mapping from domain events to Socket.IO emits, each with its audience.

Audiences are Socket.IO rooms, so emits work the same across nodes with python-socketio's Redis
manager: per session one room for facilitators, one for admitted members in the main room, one for
those in each side room and breakout group, one for waiting members, and one per participant for
private messages. A waiting member is never in a room that sees the roster, and a member away from the
main room is in their place's room only: what is said or shown of a place reaches that place (and the
facilitators, who see every place).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rooms.events import (
    BreakoutWarned,
    Event,
    GroupsBroadcast,
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
from rooms.model import MAIN, Participant, Session, group_place
from rooms.views import Audience, View, lobby_view, participation_view, state_views, view_of


def leads_room(session_id: str) -> str:
    return f"s:{session_id}:leads"


def members_room(session_id: str, place: str = MAIN) -> str:
    """Admitted members in one place; the main room's keeps the name it always had."""
    return f"s:{session_id}:members" if place == MAIN else f"s:{session_id}:members:{place}"


def waiting_room(session_id: str) -> str:
    return f"s:{session_id}:waiting"


def participant_room(session_id: str, participant_id: str) -> str:
    return f"p:{session_id}:{participant_id}"


def audience_room(session_id: str, p: Participant) -> str | None:
    """The one broadcast room a participant's socket belongs in, by role, status and place."""
    view = view_of(p)
    return _room_of(session_id, view) if view is not None else None


@dataclass(frozen=True)
class Emit:
    event: str
    data: dict[str, Any]
    room: str


def state_emits(s: Session, now: float) -> list[Emit]:
    """One view per audience and place; views nobody is connected to receive are not built at all."""
    wanted = {view for p in s.participants.values() if p.connected and (view := view_of(p)) is not None}
    views = state_views(s, now, sorted(wanted, key=_order))
    return [Emit("session.state", data, _room_of(s.id, view)) for view, data in views.items()]


def speaking_emits(
    session_id: str, places: Mapping[str, str], levels: dict[str, float], active: str | None
) -> list[Emit]:
    """Speaking levels, each to those who may hear that person: the facilitators see every place's;
    the members of each place, only their place's (``places``: participant id -> place, the main room
    for anyone not in it)."""
    rounded = {pid: round(level, 3) for pid, level in levels.items()}
    out = [Emit("speaking", {"levels": rounded, "active": active}, leads_room(session_id))]
    for place in sorted({MAIN, *places.values()}):
        here = {pid: level for pid, level in rounded.items() if places.get(pid, MAIN) == place}
        heard = active if active is not None and places.get(active, MAIN) == place else None
        out.append(Emit("speaking", {"levels": here, "active": heard}, members_room(session_id, place)))
    return out


def _order(view: View) -> tuple[int, str]:
    return (_AUDIENCE_ORDER.index(view.audience), view.place)


_AUDIENCE_ORDER = (Audience.LEADS, Audience.MEMBERS, Audience.WAITING)


def _room_of(session_id: str, view: View) -> str:
    if view.audience is Audience.LEADS:
        return leads_room(session_id)
    if view.audience is Audience.WAITING:
        return waiting_room(session_id)
    return members_room(session_id, view.place)


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
    if isinstance(e, BreakoutWarned):
        return _to_groups(s, "breakout.warning", {"ends_at": e.ends_at})
    if isinstance(e, GroupsBroadcast):
        sender = s.participants[e.from_id]
        line = {"from": e.from_id, "name": sender.name, "text": e.text, "at": e.at}
        return _to_groups(s, "breakout.broadcast", line)
    return []


def _to_groups(s: Session, event: str, data: dict[str, Any]) -> list[Emit]:
    """To the members of every breakout group, and the facilitators (who see every place)."""
    groups = s.breakout.groups if s.breakout is not None else 0
    rooms = [members_room(s.id, group_place(index)) for index in range(groups)]
    return [Emit(event, data, room) for room in (*rooms, leads_room(s.id))]
