"""Where everyone is, and who hears and sees whom: the main room, side rooms, breakout groups.

Every admitted participant is in exactly one place (``Participant.place``). Media follows place:
nobody receives anything of someone in another place, whatever the floor, so a private word stays
private and a pair practises undisturbed. Within a place, video always flows and audio flows when
``Session.audible`` says so (forced mute everywhere, the strict floor in the main room, a facilitator
visiting a group to listen only). ``hears`` and ``sees`` are the reference the media engine's gate
must agree with (``signaling.ports.ForwardingPolicy`` carries the same facts to it).

Moving someone out of the main room pauses what of the main room is theirs: they lose the floor (a
member to the head of the queue, so one click gives it back when they return), keep their place in
the queue, and their go-around turn waits until they are back (``rooms.turns``).
"""

from __future__ import annotations

from rooms.model import MAIN, SIDE_PREFIX, Participant, Session, Status, group_of
from rooms.turns import step_away


def sees(s: Session, receiver_id: str, publisher_id: str) -> bool:
    """Whether ``receiver_id`` gets ``publisher_id``'s video: both in the room, in the same place."""
    receiver, publisher = s.participants.get(receiver_id), s.participants.get(publisher_id)
    if receiver is None or publisher is None or receiver is publisher:
        return False
    both_in = receiver.status is Status.ADMITTED and publisher.status is Status.ADMITTED
    return both_in and receiver.place == publisher.place


def hears(s: Session, receiver_id: str, publisher_id: str) -> bool:
    """Whether ``receiver_id`` gets ``publisher_id``'s audio: they see them and the publisher is audible."""
    return sees(s, receiver_id, publisher_id) and s.audible(publisher_id)


def in_place(s: Session, place: str) -> list[Participant]:
    """Who is in one place now, in roster order."""
    return [p for p in s.participants.values() if p.status is Status.ADMITTED and p.place == place]


def exists(s: Session, place: str) -> bool:
    """Whether a place is open now: the main room always; a side room or a group while it lasts."""
    if place == MAIN:
        return True
    index = group_of(place)
    if index is not None:
        return s.breakout is not None and 0 <= index < s.breakout.groups
    return place.startswith(SIDE_PREFIX) and place[len(SIDE_PREFIX) :] in s.side_rooms


def move(s: Session, p: Participant, place: str, now: float) -> None:
    """Put one participant in a place; out of the main room, what of the main room was theirs pauses."""
    if p.place == place:
        return
    p.place = place
    if place != MAIN:
        step_away(s, p.id, now)
    else:
        p.listen_only = False


def close_side_room(s: Session, member_id: str, now: float) -> None:
    """End a side room: the member back where they came from (if it is still open), the facilitator
    back in the main room."""
    room = s.side_rooms.pop(member_id, None)
    if room is None:
        return
    member, lead = s.participants.get(room.member), s.participants.get(room.lead)
    if member is not None and member.status is Status.ADMITTED:
        move(s, member, room.back_to if exists(s, room.back_to) else MAIN, now)
    if lead is not None and lead.status is Status.ADMITTED:
        move(s, lead, MAIN, now)


def end_breakout(s: Session, now: float) -> None:
    """Everyone in a group returns to the main room; a member aside from a group will return there too."""
    if s.breakout is None:
        return
    s.breakout = None
    for room in s.side_rooms.values():
        if group_of(room.back_to) is not None:
            room.back_to = MAIN
    for p in s.participants.values():
        if group_of(p.place) is not None:
            move(s, p, MAIN, now)


def vacate(s: Session, p: Participant, now: float) -> None:
    """Someone leaves the room (left, removed, sent to the lobby): their side room ends with them, and
    they will come back, if they do, to the main room."""
    for room in list(s.side_rooms.values()):
        if p.id in (room.member, room.lead):
            close_side_room(s, room.member, now)
    p.place, p.listen_only = MAIN, False


def close_all(s: Session) -> None:
    """The session ended: no side rooms, no breakout, everyone's place reset."""
    s.side_rooms.clear()
    s.breakout = None
    for p in s.participants.values():
        p.place, p.listen_only = MAIN, False
