"""Session <-> plain dict, for stores. Version-tolerant: unknown keys are ignored, missing ones default.

Everything in a session is state (no notes, no media); names appear only in the roster. Where
everyone is (each participant's ``place``, the side rooms and the breakout with its timer) is state
too: a node that takes a session over puts everyone back where they were.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rooms.model import (
    Admission,
    Breakout,
    E2eeMode,
    Floor,
    FloorMode,
    GoAround,
    Participant,
    Phase,
    Role,
    Session,
    SessionStatus,
    SideRoom,
    Status,
)

FORMAT = 1


def session_to_dict(s: Session) -> dict[str, Any]:
    """A snapshot: scalars shared, every mutable part copied (``dataclasses.asdict`` cost ~0.7 ms a save)."""
    data: dict[str, Any] = s.__dict__.copy()  # scalars; every mutable field is replaced by a copy below
    data["format"] = FORMAT
    data["agenda"] = [{"name": p.name, "minutes": p.minutes, "floor_mode": p.floor_mode} for p in s.agenda]
    data["queue"] = list(s.queue)
    f, g = s.floor, s.go_around
    data["floor"] = {"holder": f.holder, "since": f.since, "ends_at": f.ends_at} if f else None
    data["go_around"] = (
        {"order": list(g.order), "position": g.position, "turn_seconds": g.turn_seconds, "turn_ends_at": g.turn_ends_at}
        if g
        else None
    )
    # A participant's fields are all immutable scalars (a test pins it), so a shallow copy is a snapshot.
    data["participants"] = [p.__dict__.copy() for p in s.participants.values()]
    data["side_rooms"] = [room.__dict__.copy() for room in s.side_rooms.values()]  # scalars only
    data["breakout"] = s.breakout.__dict__.copy() if s.breakout else None
    return data


def session_from_dict(data: dict[str, Any]) -> Session:
    fields = _known(Session, data)
    if "agenda" in data:
        fields["agenda"] = [_phase(p) for p in data["agenda"]]
    fields["admission"] = Admission(data.get("admission", "lobby"))
    if "e2ee" in data:
        fields["e2ee"] = E2eeMode(data["e2ee"])
    fields["status"] = SessionStatus(data.get("status", "open"))
    fields["floor"] = Floor(**_known(Floor, data["floor"])) if data.get("floor") else None
    fields["go_around"] = GoAround(**_known(GoAround, data["go_around"])) if data.get("go_around") else None
    fields["queue"] = list(data.get("queue", []))
    fields["participants"] = {p["id"]: _participant(p) for p in data.get("participants", [])}
    rooms = [SideRoom(**_known(SideRoom, room)) for room in data.get("side_rooms", [])]
    fields["side_rooms"] = {room.member: room for room in rooms}
    fields["breakout"] = Breakout(**_known(Breakout, data["breakout"])) if data.get("breakout") else None
    return Session(**fields)


def _phase(data: dict[str, Any]) -> Phase:
    return Phase(data["name"], data["minutes"], FloorMode(data["floor_mode"]))


def _participant(data: dict[str, Any]) -> Participant:
    fields = _known(Participant, data)
    fields["role"] = Role(data["role"])
    fields["status"] = Status(data["status"])
    return Participant(**fields)


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}
