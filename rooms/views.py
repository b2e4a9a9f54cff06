"""What each audience may see of a session, as plain JSON-ready dicts.

Three views, by who asks: facilitators see everything of the roster (including removed participants
and speaking time); admitted members see the room without those; a waiting member sees only the
session's title, status and agenda, never who else is there.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from rooms.agenda import phase_ends_at
from rooms.model import Participant, Session, Status


class Audience(StrEnum):
    """Who a ``session.state`` is for: each audience has its own Socket.IO room and its own view."""

    LEADS = "leads"
    MEMBERS = "members"
    WAITING = "waiting"


def state_view(s: Session, now: float, *, leads: bool, admitted: bool = True) -> dict[str, Any]:
    """The ``session.state`` payload for one audience."""
    audience = Audience.WAITING if not admitted else Audience.LEADS if leads else Audience.MEMBERS
    return state_views(s, now, (audience,))[audience]


def state_views(s: Session, now: float, audiences: Iterable[Audience]) -> dict[Audience, dict[str, Any]]:
    """The ``session.state`` payload for each audience asked for, built once.

    Every change is sent to up to three audiences; the parts they share (phase, agenda, floor, queue,
    each participant's entry) are built once and shared between the views, which are only serialized.
    """
    wanted = set(audiences)
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
        "phase": _phase(s, now),
        "agenda": [{"name": p.name, "minutes": p.minutes, "floor_mode": str(p.floor_mode)} for p in s.agenda],
    }
    views: dict[Audience, dict[str, Any]] = {}
    if Audience.WAITING in wanted:
        views[Audience.WAITING] = common | {"floor": None, "queue": [], "go_around": None, "participants": []}
    if not wanted & {Audience.LEADS, Audience.MEMBERS}:
        return views
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
        views[Audience.LEADS] = seated | {
            "participants": [
                dict(
                    entry,
                    spoke_seconds=round(p.spoke_seconds, 1),
                    passes=p.passes,
                    safety_shared=p.safety_shared,
                    disconnected_at=p.disconnected_at,  # when a dropped connection went (the plan for a drop)
                    help_since=p.help_since,  # an open help request; members never see another's
                    audio_only=not p.receive_video,  # on a weak link: their video may be frozen by choice
                )
                for p, entry in entries
            ]
        }
    if Audience.MEMBERS in wanted:
        views[Audience.MEMBERS] = seated | {
            "participants": [entry for p, entry in entries if p.status is Status.ADMITTED]
        }
    return views


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
        "audible": s.audible(p.id),
        "stream_ids": p.stream_ids,
    }
