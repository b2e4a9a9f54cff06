"""Speaking turns: the hand queue, the floor, go-arounds and turn timers.

Timers are data (``ends_at``); ``rooms.controller.tick`` expires them, so nothing here reads a clock.
The floor, the queue and the go-around are the main room's: someone away in a side room or a breakout
group cannot be given the floor, keeps their place in the queue, and their go-around turn waits.
"""

from __future__ import annotations

from rooms import commands as c
from rooms.errors import Conflict, Forbidden, Invalid, NotFound
from rooms.events import Audited, Event, MediaPolicyChanged, StateChanged
from rooms.model import FLOOR_DROP_HOLD_SECONDS, Floor, GoAround, Participant, Role, Session, Status

_CHANGED: list[Event] = [StateChanged(), MediaPolicyChanged()]

MAX_TURN_SECONDS = 3600.0


def raise_hand(s: Session, actor: Participant, cmd: c.RaiseHand, now: float) -> list[Event]:
    if s.floor is not None and s.floor.holder == actor.id:
        raise Conflict("you hold the floor")
    if actor.id in s.queue:
        return []
    s.queue.append(actor.id)
    return [StateChanged()]


def lower_hand(s: Session, actor: Participant, cmd: c.LowerHand, now: float) -> list[Event]:
    if actor.id not in s.queue:
        return []
    s.queue.remove(actor.id)
    return [StateChanged()]


def grant_floor(s: Session, actor: Participant, cmd: c.GrantFloor, now: float) -> list[Event]:
    target = in_room(s, cmd.id)
    if target.away:
        raise Conflict(f"{cmd.id} is away from the main room")
    _no_go_around(s)
    _give_floor(s, target.id, cmd.turn_seconds, now)
    return [*_CHANGED, Audited("floor.grant", target.id)]


def next_floor(s: Session, actor: Participant, cmd: c.NextFloor, now: float) -> list[Event]:
    _no_go_around(s)
    here = [pid for pid in s.queue if not _away(s, pid)]  # the away keep their place for their return
    if not here:
        raise Conflict("nobody in the main room is waiting to speak")
    holder = here[0]
    _give_floor(s, holder, cmd.turn_seconds, now)
    return [*_CHANGED, Audited("floor.grant", holder)]


def release_floor(s: Session, actor: Participant, cmd: c.ReleaseFloor, now: float) -> list[Event]:
    if s.floor is None:
        raise Conflict("nobody holds the floor")
    if not actor.role.leads and s.floor.holder != actor.id:
        raise Forbidden("only the floor holder or a facilitator may end this turn")
    if s.go_around is not None and s.go_around.current == s.floor.holder:
        advance_go_around(s, now)
    else:
        s.floor = None
    return list(_CHANGED)


def start_go_around(s: Session, actor: Participant, cmd: c.StartGoAround, now: float) -> list[Event]:
    if s.go_around is not None:
        raise Conflict("a go-around is already running")
    check_turn_seconds(cmd.turn_seconds)
    order = list(cmd.order) if cmd.order is not None else _members_in_join_order(s)
    if len(set(order)) != len(order):
        raise Invalid("the order names someone twice")
    for pid in order:
        in_room(s, pid)
    if not any(not _away(s, pid) for pid in order):
        raise Conflict("nobody in the main room to go around")
    s.go_around = GoAround(order=order, position=0, turn_seconds=cmd.turn_seconds, turn_ends_at=None)
    start_go_around_turn(s, now)
    return [*_CHANGED, Audited("goaround.start")]


def pass_turn(s: Session, actor: Participant, cmd: c.PassTurn, now: float) -> list[Event]:
    if s.go_around is None or s.go_around.current != actor.id:
        raise Conflict("it is not your turn")
    actor.passes += 1
    advance_go_around(s, now)
    return list(_CHANGED)


def stop_go_around(s: Session, actor: Participant, cmd: c.StopGoAround, now: float) -> list[Event]:
    if s.go_around is None:
        raise Conflict("no go-around is running")
    end_go_around(s)
    return [*_CHANGED, Audited("goaround.stop")]


def end_go_around(s: Session) -> None:
    g = s.go_around
    if g is not None and s.floor is not None and s.floor.holder == g.current:
        s.floor = None
    s.go_around = None


def advance_go_around(s: Session, now: float) -> None:
    """Hand the floor to the next in the go-around, or finish it after the last turn."""
    g = s.go_around
    if g is None:
        return
    g.position += 1
    start_go_around_turn(s, now)


def start_go_around_turn(s: Session, now: float) -> None:
    """Give the floor to whoever stands at the go-around's position, or end it past the last.

    A turn waits for someone away: those still to speak who are away move after the others, and
    when only the away are left the go-around is over (the facilitator can start another).
    """
    g = s.go_around
    if g is None:
        return
    _postpone_away(s, g)
    current = g.current
    if current is None:
        s.go_around = None
        s.floor = None
        return
    ends_at = now + g.turn_seconds if g.turn_seconds is not None else None
    g.turn_ends_at = ends_at
    s.floor = Floor(holder=current, since=now, ends_at=ends_at)
    if current in s.queue:
        s.queue.remove(current)


def pass_dropped_floor(s: Session, now: float) -> list[Event]:
    """The floor does not wait long for a holder whose connection dropped.

    After ``FLOOR_DROP_HOLD_SECONDS`` (a blip keeps the turn) the floor passes on, so a strict phase
    is not left silent and the talking stick is never with someone who cannot speak. The holder is
    not forgotten: outside a go-around they go to the head of the queue, so "Next in queue" gives
    the floor back the moment they return; in a go-around, their turn comes again after the others.
    """
    f = s.floor
    holder = s.participants.get(f.holder) if f is not None else None
    if f is None or holder is None or holder.connected or holder.disconnected_at is None:
        return []
    if now - max(holder.disconnected_at, f.since) < FLOOR_DROP_HOLD_SECONDS:
        return []
    g = s.go_around
    if g is not None and g.current == holder.id:
        if g.position + 1 < len(g.order):
            g.order.append(g.order.pop(g.position))
            start_go_around_turn(s, now)
        else:
            advance_go_around(s, now)
    else:
        s.floor = None
        if holder.id in s.queue:
            s.queue.remove(holder.id)
        s.queue.insert(0, holder.id)
    return list(_CHANGED)


def step_away(s: Session, pid: str, now: float) -> None:
    """Someone left the main room for a side room or a group: the floor is the main room's.

    A holder taken aside loses the floor, as a holder whose connection dropped does: in a strict
    phase nobody else in the main room could be heard while they are away. A member goes to the head
    of the queue, so the floor is one click away when they return; in a go-around their turn comes
    after the others'. Their queue place and go-around turn otherwise stay theirs.
    """
    f = s.floor
    if f is None or f.holder != pid:
        return
    g = s.go_around
    if g is not None and g.current == pid:
        start_go_around_turn(s, now)
        return
    s.floor = None
    holder = s.participants.get(pid)
    if holder is not None and holder.role is Role.MEMBER:
        if pid in s.queue:
            s.queue.remove(pid)
        s.queue.insert(0, pid)


def _postpone_away(s: Session, g: GoAround) -> None:
    rest = g.order[g.position :]
    first_here = next((i for i, pid in enumerate(rest) if not _away(s, pid)), None)
    if first_here is None:
        g.position = len(g.order)
    else:
        g.order[g.position :] = rest[first_here:] + rest[:first_here]


def _away(s: Session, pid: str) -> bool:
    p = s.participants.get(pid)
    return p is not None and p.away


def check_turn_seconds(turn_seconds: float | None) -> None:
    """A turn lasts a positive, finite time (NaN and infinity would never or always expire)."""
    if turn_seconds is not None and not 0 < turn_seconds <= MAX_TURN_SECONDS:
        raise Invalid(f"turn_seconds must be more than 0 and at most {MAX_TURN_SECONDS:g}")


def _give_floor(s: Session, holder: str, turn_seconds: float | None, now: float) -> None:
    check_turn_seconds(turn_seconds)
    if holder in s.queue:
        s.queue.remove(holder)
    ends_at = now + turn_seconds if turn_seconds is not None else None
    s.floor = Floor(holder=holder, since=now, ends_at=ends_at)


def _no_go_around(s: Session) -> None:
    if s.go_around is not None:
        raise Conflict("a go-around is running; stop it first")


def in_room(s: Session, pid: str) -> Participant:
    """The participant named, who must be admitted: ``NotFound`` or ``Conflict`` otherwise."""
    p = s.participants.get(pid)
    if p is None:
        raise NotFound(f"no participant {pid}")
    if p.status is not Status.ADMITTED:
        raise Conflict(f"{pid} is not in the room")
    return p


def _members_in_join_order(s: Session) -> list[str]:
    members = [p for p in s.admitted() if p.role is Role.MEMBER and not p.away]
    members.sort(key=lambda p: p.joined_at or 0.0)
    return [p.id for p in members]
