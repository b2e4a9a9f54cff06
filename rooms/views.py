"""What each audience may see of a session, as plain JSON-ready dicts.

Three views, by who asks: facilitators see everything of the roster (including removed participants
and speaking time); admitted members see the room without those; a waiting member sees only the
session's title, status and agenda, never who else is there.

Members' views differ by place (``View.place``): each participant entry says where that person is as
seen from the viewer's place (``presence``): ``here``; from the main room, ``stepped_out`` for someone
in a side room (no more: not with whom, nor why) and ``in_group`` during a breakout; from a side room
or a group, ``elsewhere``. Members in a group see their group and the time left; facilitators see
every place, who is in it, and its timer.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, NamedTuple

from rooms.agenda import phase_ends_at
from rooms.model import MAIN, SIDE_PREFIX, Participant, Session, Status, group_of, group_place
from rooms.places import in_place


class Audience(StrEnum):
    """Who a ``session.state`` is for: each audience has its own Socket.IO room and its own view."""

    LEADS = "leads"
    MEMBERS = "members"
    WAITING = "waiting"


class View(NamedTuple):
    """One ``session.state`` view: an audience, and for members the place they are in."""

    audience: Audience
    place: str = MAIN


def state_view(s: Session, now: float, *, leads: bool, admitted: bool = True, place: str = MAIN) -> dict[str, Any]:
    """The ``session.state`` payload for one audience (members: in ``place``)."""
    audience = Audience.WAITING if not admitted else Audience.LEADS if leads else Audience.MEMBERS
    view = View(audience, place if audience is Audience.MEMBERS else MAIN)
    return state_views(s, now, (view,))[view]


def view_of(p: Participant) -> View | None:
    """Which view a participant gets, by role, status and place; left and removed participants get none."""
    if p.status is Status.ADMITTED:
        return View(Audience.LEADS) if p.role.leads else View(Audience.MEMBERS, p.place)
    return View(Audience.WAITING) if p.status is Status.WAITING else None


def state_views(s: Session, now: float, views: Iterable[View]) -> dict[View, dict[str, Any]]:
    """The ``session.state`` payload for each view asked for, built once.

    Every change is sent to a few views; the parts they share (phase, agenda, floor, queue, each
    participant's entry) are built once and shared between the views, which are only serialized.
    """
    asked = list(dict.fromkeys(views))
    wanted = {v.audience for v in asked}
    common: dict[str, Any] = {
        "id": s.id,
        "title": s.title,
        "version": s.version,
        "now": now,  # the server's clock as this view was made: clients time against it, not their own
        "starts_at": s.starts_at,
        "facilitators": _facilitators(s),
        "status": str(s.status),
        "locked": s.locked,
        "on_hold": s.on_hold,
        "requires_agreement": s.requires_agreement,
        "requires_safety_plan": s.requires_safety_plan,
        "e2ee": str(s.e2ee),
        "phase": _phase(s, now),
        "agenda": [{"name": p.name, "minutes": p.minutes, "floor_mode": str(p.floor_mode)} for p in s.agenda],
    }
    out: dict[View, dict[str, Any]] = {}
    if Audience.WAITING in wanted:
        out[View(Audience.WAITING)] = common | {
            "floor": None,
            "queue": [],
            "go_around": None,
            "breakout": None,
            "participants": [],
        }
    if not wanted & {Audience.LEADS, Audience.MEMBERS}:
        return out
    g = s.go_around
    seated = common | {
        "floor": _floor(s, now),
        "queue": list(s.queue),
        "go_around": (
            {
                "order": list(g.order),
                "position": g.position,
                "turn_ends_at": g.turn_ends_at,
                "turn_remaining": _remaining(g.turn_ends_at, now),
            }
            if g
            else None
        ),
    }
    entries = [(p, _participant(s, p)) for p in s.participants.values() if p.status in _SEEN_BY_LEADS]
    if Audience.LEADS in wanted:
        out[View(Audience.LEADS)] = seated | {
            "participants": [
                dict(
                    entry,
                    spoke_seconds=round(p.spoke_seconds, 1),
                    passes=p.passes,
                    safety_shared=p.safety_shared,
                    disconnected_at=p.disconnected_at,  # when a dropped connection went (the plan for a drop)
                    help_since=p.help_since,  # an open help request; members never see another's
                    place=p.place,
                    audio_only=not p.receive_video,  # on a weak link: their video may be frozen by choice
                )
                for p, entry in entries
            ],
            "breakout": _breakout_for_leads(s, now),
            "side_rooms": [room.__dict__.copy() for room in s.side_rooms.values()],
        }
    members = [(p, entry) for p, entry in entries if p.status is Status.ADMITTED]
    breakout = _breakout_for_members(s, now)
    for view in asked:
        if view.audience is Audience.MEMBERS:
            out[view] = seated | {
                "participants": [entry | _as_seen_from(view.place, p, entry) for p, entry in members],
                "place": _place(view.place),
                "breakout": breakout,
            }
    return out


# Facilitators see who left or was removed (for the record); members see only who is in the room.
_SEEN_BY_LEADS = (Status.ADMITTED, Status.LEFT, Status.REMOVED)


def lobby_view(s: Session) -> dict[str, Any]:
    """The ``lobby`` payload for facilitators."""
    return {
        "waiting": [
            {
                "id": p.id,
                "name": p.name,
                "agreed": p.agreed,
                "safety_shared": p.safety_shared,
                "since": p.waiting_since,
                "connected": p.connected,
                "help_since": p.help_since,
            }
            for p in s.waiting()
        ]
    }


def attendance_view(s: Session) -> list[dict[str, Any]]:
    """Attendance for the facilitator's records: who was there and for how long. No content, ever."""
    return [
        {
            "id": p.id,
            "name": p.name,
            "role": str(p.role),
            "joined_at": p.joined_at,
            "left_at": p.left_at,
            "spoke_seconds": round(p.spoke_seconds, 1),
        }
        for p in s.participants.values()
        if p.joined_at is not None
    ]


def presence(viewer_place: str, p: Participant) -> str:
    """Where ``p`` is, as a member in ``viewer_place`` may know it."""
    if p.place == viewer_place:
        return "here"
    if viewer_place != MAIN:
        return "elsewhere"
    return "stepped_out" if p.place.startswith(SIDE_PREFIX) else "in_group"


def _as_seen_from(viewer_place: str, p: Participant, entry: dict[str, Any]) -> dict[str, Any]:
    """A member hears only their own place: ``audible`` says whether *they* hear this person."""
    where = presence(viewer_place, p)
    return {"presence": where, "audible": where == "here" and entry["audible"]}


def _place(place: str) -> dict[str, Any]:
    kind = "main" if place == MAIN else "side" if place.startswith(SIDE_PREFIX) else "group"
    return {"kind": kind, "group": group_of(place)}


def _breakout_for_members(s: Session, now: float) -> dict[str, Any] | None:
    """The breakout's timer, for every member: in a group, when they return; in the main room, when
    the others do. Who is in which other group is not theirs to know."""
    b = s.breakout
    if b is None:
        return None
    return {"count": b.groups, "ends_at": b.ends_at, "remaining": _remaining(b.ends_at, now), "warned": b.warned}


def _breakout_for_leads(s: Session, now: float) -> dict[str, Any] | None:
    b = s.breakout
    if b is None:
        return None
    groups = []
    for index in range(b.groups):
        here = in_place(s, group_place(index))
        groups.append(
            {
                "index": index,
                "members": [p.id for p in here if not p.role.leads],
                "visitors": [p.id for p in here if p.role.leads],
            }
        )
    return {
        "count": b.groups,
        "groups": groups,
        "minutes": b.minutes,
        "started_at": b.started_at,
        "ends_at": b.ends_at,
        "remaining": _remaining(b.ends_at, now),
        "warned": b.warned,
    }


def _remaining(ends_at: float | None, now: float) -> float | None:
    return None if ends_at is None else max(0.0, ends_at - now)


def _floor(s: Session, now: float) -> dict[str, Any] | None:
    f = s.floor
    if f is None:
        return None
    return {"holder": f.holder, "since": f.since, "ends_at": f.ends_at, "remaining": _remaining(f.ends_at, now)}


def _facilitators(s: Session) -> list[dict[str, Any]]:
    """Who runs the session, for everyone including those waiting: a waiting room names its host."""
    leads = [p for p in s.participants.values() if p.role.leads and p.status is Status.ADMITTED]
    return [{"id": p.id, "name": p.name, "role": str(p.role), "connected": p.connected} for p in leads]


def _phase(s: Session, now: float) -> dict[str, Any]:
    phase = s.phase
    ends_at = phase_ends_at(s)
    started = s.phase_started_at
    return {
        "index": s.phase_index,
        "name": phase.name,
        "started_at": started,
        "minutes": phase.minutes,
        "floor_mode": str(phase.floor_mode),
        "ends_at": ends_at,
        "elapsed": None if started is None else max(0.0, now - started),
        "remaining": _remaining(ends_at, now),
        "overtime": s.phase_overtime,
    }


def _participant(s: Session, p: Participant) -> dict[str, Any]:
    """What every admitted audience sees of one participant; facilitators' extras are added by the caller."""
    return {
        "id": p.id,
        "name": p.name,
        "role": str(p.role),
        "status": str(p.status),
        "connected": p.connected,
        "hand_raised": p.id in s.queue,
        "audio": p.audio,
        "video": p.video,
        "forced_mute": p.forced_mute,
        "audible": s.audible(p.id),  # heard by those in their place (members' views: by the viewer)
        "listen_only": p.listen_only,  # a facilitator visiting a group to listen, not to speak
        "stream_ids": p.stream_ids,
    }


def participation_view(s: Session) -> dict[str, Any]:
    """The facilitators' participation figures: seconds each person present has spoken so far."""
    return {"spoke": {p.id: round(p.spoke_seconds, 1) for p in s.participants.values() if p.present}}
