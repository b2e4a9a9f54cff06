"""A private word: a facilitator takes one member aside while the group carries on.

The two hear and see each other and nobody else, and nobody else hears them (``rooms.places``). The
main room sees only that both "stepped out" (``rooms.views``). A facilitator or co-facilitator takes
a member aside themselves; the lead facilitator may also send a co-facilitator aside with the member
(``with``), which a co-facilitator may not do to anyone else: acting on another facilitator is the
lead facilitator's alone, as removing one is. Who started it, or the lead facilitator, ends it.

A member may be taken aside from the main room or from a breakout group; they go back there when it
ends (the main room if the breakout ended meanwhile). A side room whose facilitator's connection has
been gone for ``SIDE_ROOM_DROP_HOLD_SECONDS`` ends by itself (``expire_abandoned``, from ``tick``,
even while the session is on hold): a member in distress is never left alone in a silent room.
"""

from __future__ import annotations

from rooms import commands as c
from rooms.errors import Conflict, Forbidden, Invalid, NotFound
from rooms.events import Audited, Event, MediaPolicyChanged, StateChanged
from rooms.model import (
    SIDE_PREFIX,
    SIDE_ROOM_DROP_HOLD_SECONDS,
    Participant,
    Role,
    Session,
    SideRoom,
    side_place,
)
from rooms.places import close_side_room, move
from rooms.turns import in_room


def start(s: Session, actor: Participant, cmd: c.StartSideRoom, now: float) -> list[Event]:
    member = in_room(s, cmd.id)
    if member.role is not Role.MEMBER:
        raise Forbidden("a side room takes a member aside; facilitators are not taken aside")
    lead = actor if cmd.with_id is None or cmd.with_id == actor.id else in_room(s, cmd.with_id)
    if not lead.role.leads:
        raise Invalid("`with` names the facilitator or co-facilitator who goes aside")
    if lead is not actor and actor.role is not Role.FACILITATOR:
        raise Forbidden("only the facilitator sends another facilitator aside")
    if not lead.connected:
        raise Conflict(f"{lead.id} is not connected")
    for p in (member, lead):
        if p.place.startswith(SIDE_PREFIX):
            raise Conflict(f"{p.id} is already in a side room")
    place = side_place(member.id)
    s.side_rooms[member.id] = SideRoom(member=member.id, lead=lead.id, since=now, back_to=member.place)
    move(s, member, place, now)
    lead.listen_only = False
    move(s, lead, place, now)
    return [StateChanged(), MediaPolicyChanged(), Audited("side.start", member.id)]


def end(s: Session, actor: Participant, cmd: c.EndSideRoom, now: float) -> list[Event]:
    if cmd.id is not None:
        room = s.side_rooms.get(cmd.id)
        if room is None:
            raise NotFound(f"no side room for {cmd.id}")
    else:
        room = next((r for r in s.side_rooms.values() if r.lead == actor.id), None)
        if room is None:
            raise Conflict("you are not in a side room")
    if room.lead != actor.id and actor.role is not Role.FACILITATOR:
        raise Forbidden("only the facilitator ends another facilitator's side room")
    close_side_room(s, room.member, now)
    return [StateChanged(), MediaPolicyChanged(), Audited("side.end", room.member)]


def expire_abandoned(s: Session, now: float) -> list[Event]:
    """End the side rooms whose facilitator's connection has been gone too long."""
    events: list[Event] = []
    for room in list(s.side_rooms.values()):
        lead = s.participants.get(room.lead)
        gone_at = lead.disconnected_at if lead is not None and not lead.connected else None
        if gone_at is not None and now - gone_at >= SIDE_ROOM_DROP_HOLD_SECONDS:
            close_side_room(s, room.member, now)
            events += [StateChanged(), MediaPolicyChanged()]
    return events
