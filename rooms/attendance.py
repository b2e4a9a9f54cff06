"""Entering and leaving the room: the one place that changes a participant's status.

Leaving is shared by every exit (grace expired, denied, removed, session ended) so the queue, the floor,
the go-around and the side rooms never keep someone who is gone.
"""

from __future__ import annotations

from rooms.errors import Conflict
from rooms.events import Event, LobbyChanged, MediaPolicyChanged, ParticipantLeft, StateChanged
from rooms.model import Admission, Participant, Session, SessionStatus, Status
from rooms.places import vacate
from rooms.turns import start_go_around_turn


def admit(s: Session, p: Participant, now: float) -> list[Event]:
    """Let a waiting participant in, enforcing agreement, lock, hold and capacity."""
    if p.status is not Status.WAITING:
        raise Conflict(f"{p.id} is not waiting")
    if s.requires_agreement and not p.agreed:
        raise Conflict(f"{p.id} has not accepted the group agreement")
    if s.requires_safety_plan and not p.safety_shared:
        raise Conflict(f"{p.id} has not shared a location and an emergency contact")
    if locked_out(s, p):
        raise Conflict("the session is locked")
    if s.on_hold:
        raise Conflict("the session is on hold until a facilitator returns")
    if len(s.admitted()) >= s.max_participants:
        raise Conflict("the session is full")
    p.status = Status.ADMITTED
    if s.phase_started_at is None:  # the session starts with its first member, not the console opening
        s.phase_started_at = now
    if p.joined_at is None:
        p.joined_at = now
    p.left_at = None
    return [StateChanged(), LobbyChanged(), MediaPolicyChanged()]


def may_auto_admit(s: Session, p: Participant) -> bool:
    """Open admission lets a member straight in once the agreement and emergency plan (if required) are in.

    Only into a live room with a facilitator in it: early arrivals wait for the facilitator (the
    lobby bypass DOMAIN.md warns about), as everyone does while the session is on hold.
    """
    return (
        s.admission is Admission.OPEN
        and s.status is SessionStatus.LIVE
        and p.status is Status.WAITING
        and has_what_admission_needs(s, p)
        and not locked_out(s, p)
        and not s.on_hold
        and len(s.admitted()) < s.max_participants
    )


def has_what_admission_needs(s: Session, p: Participant) -> bool:
    """The agreement accepted and the emergency plan shared, for whichever the session requires."""
    return (p.agreed or not s.requires_agreement) and (p.safety_shared or not s.requires_safety_plan)


def admit_waiting(s: Session, now: float) -> list[Event]:
    """Let in, under open admission, everyone waiting who may now enter (a facilitator came, an unlock)."""
    events: list[Event] = []
    for p in s.waiting():
        if may_auto_admit(s, p):
            events += admit(s, p, now)
    return events


def locked_out(s: Session, p: Participant) -> bool:
    """A lock keeps out newcomers only: a member who was in and dropped for longer than the grace
    period is not new, and must be able to get back in (DOMAIN.md: a plan for a dropped call)."""
    return s.locked and p.joined_at is None


def leave(s: Session, p: Participant, status: Status, now: float) -> list[Event]:
    """End a participant's attendance: off the queue, off the floor, out of the go-around."""
    was_waiting = p.status is Status.WAITING
    p.status = status
    vacate(s, p, now)  # a side room ends with either of its two; a return starts in the main room
    p.connected = False
    if p.joined_at is not None and p.left_at is None:
        p.left_at = now
    if p.id in s.queue:
        s.queue.remove(p.id)
    events: list[Event] = [StateChanged(), MediaPolicyChanged(), ParticipantLeft(p.id)]
    if was_waiting:
        events.append(LobbyChanged())
    _drop_from_go_around(s, p.id, now)
    if s.floor is not None and s.floor.holder == p.id:
        s.floor = None
    if p.role.leads:
        hold_if_leaderless(s, now)
    return events


def back_to_lobby(s: Session, p: Participant, now: float) -> list[Event]:
    """Send an admitted member back to the waiting room: off the floor and the queue, seat kept.

    Their agreement stands, so letting them in again is one click. Used to talk with someone
    privately, or to pause a member who needs a moment, without ending their attendance.
    """
    p.status, p.waiting_since = Status.WAITING, now
    vacate(s, p, now)
    if p.id in s.queue:
        s.queue.remove(p.id)
    _drop_from_go_around(s, p.id, now)
    if s.floor is not None and s.floor.holder == p.id:
        s.floor = None
    return [StateChanged(), LobbyChanged(), MediaPolicyChanged()]


def hold_if_leaderless(s: Session, now: float) -> None:
    """A live session with no facilitator connected is on hold, however the last one went."""
    if s.status is SessionStatus.LIVE and not s.leaders_present() and not s.on_hold:
        s.on_hold, s.hold_since = True, now


def _drop_from_go_around(s: Session, pid: str, now: float) -> None:
    g = s.go_around
    if g is None or pid not in g.order:
        return
    index = g.order.index(pid)
    was_current = index == g.position
    g.order.pop(index)
    if index < g.position:
        g.position -= 1
    if was_current:
        start_go_around_turn(s, now)
