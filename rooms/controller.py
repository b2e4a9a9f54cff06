"""The facilitator controller: ``apply`` one command, ``tick`` the timers. Pure and synchronous.

Each command maps to one permission (``rooms.permissions``) and one rule function in a module named
after what it governs: ``lobby`` (arrival, admission, removal, end), ``agenda`` (phases), ``turns``
(hands, floor, go-arounds), ``signals`` (devices, mute, nods, notes, help), ``attendance`` (leaving),
``side_rooms`` (a private word) and ``breakouts`` (practice in groups); ``places`` says where everyone
is and who hears and sees whom.
A change bumps ``session.version``; a failed command raises and leaves the session unchanged, since
every rule checks before it writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rooms import agenda, breakouts, lobby, safety, side_rooms, signals, turns
from rooms import commands as c
from rooms.attendance import leave
from rooms.errors import Conflict, Forbidden
from rooms.events import Event, MediaPolicyChanged, StateChanged, changes_record
from rooms.model import Participant, Session, Status
from rooms.permissions import Action, check

Rule = Callable[[Session, Participant, Any, float], list[Event]]

RULES: dict[type, tuple[Action, Rule]] = {
    c.Agree: (Action.AGREE, lobby.agree),
    c.Admit: (Action.ADMIT, lobby.admit_one),
    c.AdmitAll: (Action.ADMIT_ALL, lobby.admit_all),
    c.Deny: (Action.DENY, lobby.deny),
    c.Remove: (Action.REMOVE, lobby.remove),
    c.SendToLobby: (Action.SEND_TO_LOBBY, lobby.send_to_lobby),
    c.Lock: (Action.LOCK, lobby.lock),
    c.Unlock: (Action.UNLOCK, lobby.unlock),
    c.End: (Action.END, lobby.end),
    c.SetAgenda: (Action.SET_AGENDA, agenda.set_agenda),
    c.NextPhase: (Action.NEXT_PHASE, agenda.next_phase),
    c.SetPhase: (Action.SET_PHASE, agenda.set_phase),
    c.RaiseHand: (Action.RAISE_HAND, turns.raise_hand),
    c.LowerHand: (Action.LOWER_HAND, turns.lower_hand),
    c.GrantFloor: (Action.GRANT_FLOOR, turns.grant_floor),
    c.NextFloor: (Action.NEXT_FLOOR, turns.next_floor),
    c.ReleaseFloor: (Action.RELEASE_FLOOR, turns.release_floor),
    c.StartGoAround: (Action.START_GOAROUND, turns.start_go_around),
    c.PassTurn: (Action.PASS_TURN, turns.pass_turn),
    c.StopGoAround: (Action.STOP_GOAROUND, turns.stop_go_around),
    c.Mute: (Action.MUTE, signals.mute),
    c.AllowUnmute: (Action.ALLOW_UNMUTE, signals.allow_unmute),
    c.SetMedia: (Action.SET_MEDIA, signals.set_media),
    c.SetReceive: (Action.SET_RECEIVE, signals.set_receive),
    c.Nod: (Action.NOD, signals.nod),
    c.Note: (Action.NOTE, signals.note),
    c.Help: (Action.HELP, signals.help_request),
    c.AckHelp: (Action.ACK_HELP, signals.ack_help),
    c.ShareSafetyPlan: (Action.SHARE_SAFETY_PLAN, safety.share),
    c.AskSafetyPlan: (Action.ASK_SAFETY_PLAN, safety.ask),
    c.StartSideRoom: (Action.SIDE_START, side_rooms.start),
    c.EndSideRoom: (Action.SIDE_END, side_rooms.end),
    c.StartBreakout: (Action.BREAKOUT_START, breakouts.start),
    c.VisitGroup: (Action.BREAKOUT_VISIT, breakouts.visit),
    c.LeaveGroup: (Action.BREAKOUT_LEAVE, breakouts.leave),
    c.MoveToGroup: (Action.BREAKOUT_MOVE, breakouts.move_member),
    c.BroadcastToGroups: (Action.BREAKOUT_BROADCAST, breakouts.broadcast),
    c.EndBreakout: (Action.BREAKOUT_END, breakouts.end),
}

# While the session is on hold (no facilitator connected) the floor is frozen and nobody is let in.
FROZEN_ON_HOLD = frozenset({Action.RELEASE_FLOOR, Action.PASS_TURN})
# The queue and the speaker are the main room's: someone in a side room or a group cannot join the
# queue or nod to a speaker they cannot hear (lowering a hand stays possible).
MAIN_ROOM_ONLY = frozenset({Action.RAISE_HAND, Action.NOD})


def apply(session: Session, actor_id: str, command: c.Command, now: float) -> list[Event]:
    """Apply one command for one actor at time ``now``; raise a ``RoomError`` when a rule refuses."""
    events = _dispatch(session, actor_id, command, now)
    if changes_record(events):
        session.version += 1
    return events


def _dispatch(s: Session, actor_id: str, command: c.Command, now: float) -> list[Event]:
    if s.ended:
        raise Conflict("the session has ended")
    if isinstance(command, c.Connect):
        return lobby.connect(s, actor_id, command, now)
    if isinstance(command, c.RecordSpeaking):
        return signals.record_speaking(s, command)
    actor = s.participants.get(actor_id)
    if isinstance(command, c.Disconnect | c.SetPublishing):
        if actor is None:
            raise Forbidden("not a participant of this session")
        if isinstance(command, c.Disconnect):
            return lobby.disconnect(s, actor, now)
        return signals.set_publishing(s, actor, command, now)
    action, rule = RULES[type(command)]
    actor = check(actor, action)
    if s.on_hold and action in FROZEN_ON_HOLD:
        raise Conflict("the session is on hold until a facilitator returns")
    if actor.away and action in MAIN_ROOM_ONLY:
        raise Conflict("that belongs to the main room, and you are away from it")
    return rule(s, actor, command, now)


def tick(session: Session, now: float) -> list[Event]:
    """Expire what time has run out on: drop grace periods, side rooms whose facilitator dropped, a
    dropped holder's floor, turns, go-around turns, phase time, the breakout's warning and end.

    On hold (no facilitator connected) the floor's and the breakout's clocks stand still; a side room
    left without its facilitator ends all the same, so its member is never left alone.
    """
    if session.ended:
        return []
    events = _expire_dropped(session, now)
    events += side_rooms.expire_abandoned(session, now)
    if not session.on_hold:
        events += turns.pass_dropped_floor(session, now)
        events += _expire_turn(session, now)
        events += _mark_overtime(session, now)
        events += breakouts.tick(session, now)
    if any(isinstance(e, StateChanged) for e in events):
        session.version += 1
    return events


def _expire_dropped(s: Session, now: float) -> list[Event]:
    events: list[Event] = []
    for p in list(s.participants.values()):
        gone = p.disconnected_at is not None and now - p.disconnected_at >= s.grace_seconds
        if gone and not p.connected and p.status in (Status.ADMITTED, Status.WAITING):
            events += leave(s, p, Status.LEFT, now)
    return events


def _expire_turn(s: Session, now: float) -> list[Event]:
    if s.floor is None or s.floor.ends_at is None or now < s.floor.ends_at:
        return []
    if s.go_around is not None and s.go_around.current == s.floor.holder:
        turns.advance_go_around(s, now)
    else:
        s.floor = None
    return [StateChanged(), MediaPolicyChanged()]


def _mark_overtime(s: Session, now: float) -> list[Event]:
    ends_at = agenda.phase_ends_at(s)
    if ends_at is None or s.phase_overtime or now < ends_at:
        return []
    s.phase_overtime = True
    return [StateChanged()]
