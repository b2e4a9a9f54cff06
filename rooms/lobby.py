"""The waiting room and who is in the session: arrival, agreement, admission, removal, lock, end.

Facilitators never wait. Members wait until a facilitator admits them, or, with open admission,
until they have accepted the group agreement and shared their emergency plan (when the session
requires them; ``rooms.safety`` holds the plan's rules).
"""

from __future__ import annotations

from rooms import commands as c
from rooms.attendance import (
    admit,
    admit_waiting,
    back_to_lobby,
    has_what_admission_needs,
    hold_if_leaderless,
    leave,
    locked_out,
    may_auto_admit,
)
from rooms.breakouts import resume_after_hold
from rooms.errors import Conflict, Forbidden, NotFound
from rooms.events import (
    Audited,
    Event,
    LobbyChanged,
    MediaPolicyChanged,
    ParticipantRemoved,
    SessionEnded,
    StateChanged,
)
from rooms.model import Participant, Role, Session, SessionStatus, Status
from rooms.places import close_all


def connect(s: Session, pid: str, cmd: c.Connect, now: float) -> list[Event]:
    """A connection arrived: seat a newcomer, or give a returning participant their seat back."""
    p = s.participants.get(pid)
    if p is not None and p.status is Status.REMOVED:
        raise Forbidden("you were removed from this session")
    walked_in = False
    if p is None or p.status is Status.LEFT:
        # A full room never locks its facilitators out, not even a lobby full of early arrivals.
        if not cmd.role.leads and len(s.admitted()) + len(s.waiting()) >= s.max_participants:
            raise Conflict("the session is full")
        p = _arrive(s, pid, cmd, p, now)
        walked_in = p.status is Status.ADMITTED
    p.connected = True
    p.disconnected_at = None
    events: list[Event] = [StateChanged(), LobbyChanged()]
    if walked_in:  # a facilitator enters without admission: the forwarder must count them in too
        events.append(MediaPolicyChanged())
    if p.role.leads:
        events += _leader_returns(s, p, now)
    if may_auto_admit(s, p):
        events += admit(s, p, now)
    return events


def _arrive(s: Session, pid: str, cmd: c.Connect, old: Participant | None, now: float) -> Participant:
    p = Participant(id=pid, name=cmd.name, role=cmd.role, waiting_since=now)
    if old is not None:  # came back after the grace period: keep their record, wait again
        p.joined_at, p.spoke_seconds, p.agreed = old.joined_at, old.spoke_seconds, old.agreed
        p.safety_shared = old.safety_shared  # the plan was given to the facilitators this session
        # Leaving and rejoining must not undo a facilitator's mute (only unmute.allow lifts it).
        p.forced_mute, p.passes = old.forced_mute, old.passes
    if cmd.role.leads:
        p.status, p.agreed = Status.ADMITTED, True
        p.joined_at = p.joined_at if p.joined_at is not None else now
    s.participants[pid] = p
    return p


def _leader_returns(s: Session, p: Participant, now: float) -> list[Event]:
    """The first facilitator makes the session live; a returning one lifts a hold.

    Either way, open admission now lets in whoever waited for a facilitator with the agreement
    accepted: nobody enters a room that has no facilitator in it.
    """
    events: list[Event] = []
    if s.status is SessionStatus.OPEN:
        s.status = SessionStatus.LIVE  # the phase clock waits for the first member (attendance.admit)
        events.append(Audited("session.live"))
    if s.on_hold:
        resume_from_hold(s, now)
        events.append(MediaPolicyChanged())
    return events + admit_waiting(s, now)


def resume_from_hold(s: Session, now: float) -> None:
    """Unfreeze the floor and the breakout's clock: a turn resumes with the time it had left when the
    hold began.

    A turn that began during the hold (a go-around moved on because someone's grace ran out) has
    been frozen only since it began, so it is shifted by that much, not by the whole hold.
    """
    hold_since = s.hold_since if s.hold_since is not None else now
    s.on_hold, s.hold_since = False, None
    resume_after_hold(s, hold_since, now)
    if s.floor is not None and s.floor.ends_at is not None:
        held = now - max(hold_since, s.floor.since)
        s.floor.ends_at += held
        if s.go_around is not None and s.go_around.current == s.floor.holder:
            s.go_around.turn_ends_at = s.floor.ends_at


def disconnect(s: Session, p: Participant, now: float) -> list[Event]:
    """Keep the seat for the grace period; with no facilitator left connected, hold the session."""
    if not p.connected:
        return []
    p.connected = False
    p.disconnected_at = now
    events: list[Event] = [StateChanged()]
    if p.status is Status.WAITING:
        events.append(LobbyChanged())
    if p.role.leads:
        hold_if_leaderless(s, now)
    return events


def agree(s: Session, actor: Participant, cmd: c.Agree, now: float) -> list[Event]:
    if actor.agreed:
        return []
    actor.agreed = True
    events: list[Event] = [StateChanged(), LobbyChanged()]
    if may_auto_admit(s, actor):
        events += admit(s, actor, now)
    return events


def admit_one(s: Session, actor: Participant, cmd: c.Admit, now: float) -> list[Event]:
    return [*admit(s, _target(s, cmd.id), now), Audited("admit", cmd.id)]


def admit_all(s: Session, actor: Participant, cmd: c.AdmitAll, now: float) -> list[Event]:
    """Admit, in order of arrival, everyone waiting who has what admission needs, while seats last.

    The others keep waiting; so do newcomers while the session is locked. Lock and hold are checked
    first so that a refusal changes nothing; a full room stops the loop rather than failing half-way.
    """
    if s.on_hold:
        raise Conflict("the session is on hold until a facilitator returns")
    ready = [p for p in s.waiting() if has_what_admission_needs(s, p) and not locked_out(s, p)]
    if s.locked and not ready:
        raise Conflict("the session is locked")
    events: list[Event] = []
    for p in ready:
        if len(s.admitted()) >= s.max_participants:
            break
        events += [*admit(s, p, now), Audited("admit", p.id)]
    return events


def deny(s: Session, actor: Participant, cmd: c.Deny, now: float) -> list[Event]:
    target = _target(s, cmd.id)
    if target.status is not Status.WAITING:
        raise Conflict(f"{cmd.id} is not waiting")
    return [*leave(s, target, Status.REMOVED, now), ParticipantRemoved(target.id, "denied"), Audited("deny", target.id)]


def remove(s: Session, actor: Participant, cmd: c.Remove, now: float) -> list[Event]:
    target = _target(s, cmd.id)
    if target.id == actor.id:
        raise Conflict("you cannot remove yourself")
    if target.role.leads and actor.role is not Role.FACILITATOR:
        raise Forbidden("only the facilitator may remove a co-facilitator")
    if target.status is Status.REMOVED:
        raise Conflict(f"{cmd.id} was already removed")
    return [
        *leave(s, target, Status.REMOVED, now),
        ParticipantRemoved(target.id, cmd.reason or "removed"),
        Audited("remove", target.id),
    ]


def send_to_lobby(s: Session, actor: Participant, cmd: c.SendToLobby, now: float) -> list[Event]:
    target = _target(s, cmd.id)
    if target.role.leads:
        raise Forbidden("facilitators do not wait in the lobby")
    if target.status is not Status.ADMITTED:
        raise Conflict(f"{cmd.id} is not in the room")
    return [*back_to_lobby(s, target, now), Audited("lobby.send", target.id)]


def lock(s: Session, actor: Participant, cmd: c.Lock, now: float) -> list[Event]:
    if s.locked:
        return []
    s.locked = True
    return [StateChanged(), Audited("lock")]


def unlock(s: Session, actor: Participant, cmd: c.Unlock, now: float) -> list[Event]:
    if not s.locked:
        return []
    s.locked = False
    return [StateChanged(), Audited("unlock"), *admit_waiting(s, now)]


def end(s: Session, actor: Participant, cmd: c.End, now: float) -> list[Event]:
    """End for everyone at once: turns stop, attendance closes, the state starts to expire."""
    s.status, s.ended_at = SessionStatus.ENDED, now
    s.floor, s.go_around, s.queue = None, None, []
    close_all(s)  # breakouts and side rooms end with the session
    for p in s.participants.values():
        p.connected = False
        if p.status in (Status.ADMITTED, Status.WAITING):
            p.status = Status.LEFT
            if p.joined_at is not None and p.left_at is None:
                p.left_at = now
    return [StateChanged(), LobbyChanged(), MediaPolicyChanged(), SessionEnded(now), Audited("end")]


def _target(s: Session, pid: str) -> Participant:
    p = s.participants.get(pid)
    if p is None:
        raise NotFound(f"no participant {pid}")
    return p
