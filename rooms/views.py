"""What each audience may see of a session, as plain JSON-ready dicts.

Three views, by who asks: facilitators see everything of the roster (including removed participants
and speaking time); admitted members see the room without those; a waiting member sees only the
session's title, status and agenda, never who else is there.
"""

from __future__ import annotations

from typing import Any

from rooms.agenda import phase_ends_at
from rooms.model import Participant, Session, Status


def state_view(s: Session, now: float, *, leads: bool, admitted: bool = True) -> dict[str, Any]:
    """The ``session.state`` payload for one audience."""
    view: dict[str, Any] = {
        "id": s.id,
        "title": s.title,
        "version": s.version,
        "status": str(s.status),
        "locked": s.locked,
        "on_hold": s.on_hold,
        "requires_agreement": s.requires_agreement,
        "phase": _phase(s, now),
        "agenda": [{"name": p.name, "minutes": p.minutes, "floor_mode": str(p.floor_mode)} for p in s.agenda],
        "floor": None,
        "queue": [],
        "go_around": None,
        "participants": [],
    }
    if not admitted:
        return view
    view["floor"] = (
        {"holder": s.floor.holder, "since": s.floor.since, "ends_at": s.floor.ends_at} if s.floor else None
    )
    view["queue"] = list(s.queue)
    g = s.go_around
    view["go_around"] = (
        {"order": list(g.order), "position": g.position, "turn_ends_at": g.turn_ends_at} if g else None
    )
    shown = (Status.ADMITTED, Status.LEFT, Status.REMOVED) if leads else (Status.ADMITTED,)
    view["participants"] = [
        _participant(s, p, leads) for p in s.participants.values() if p.status in shown
    ]
    return view


def lobby_view(s: Session) -> dict[str, Any]:
    """The ``lobby`` payload for facilitators."""
    return {
        "waiting": [
            {"id": p.id, "name": p.name, "agreed": p.agreed, "since": p.waiting_since,
             "connected": p.connected}
            for p in s.waiting()
        ]
    }


def attendance_view(s: Session) -> list[dict[str, Any]]:
    """Attendance for the facilitator's records: who was there and for how long. No content, ever."""
    return [
        {"id": p.id, "name": p.name, "role": str(p.role), "joined_at": p.joined_at,
         "left_at": p.left_at, "spoke_seconds": round(p.spoke_seconds, 1)}
        for p in s.participants.values()
        if p.joined_at is not None
    ]


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
        "remaining": None if ends_at is None else max(0.0, ends_at - now),
        "overtime": s.phase_overtime,
    }


def _participant(s: Session, p: Participant, leads: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
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
    if leads:
        view["spoke_seconds"] = round(p.spoke_seconds, 1)
        view["passes"] = p.passes
    return view
