"""Who may do what, as data: one table by role and one by attendance status.

A member can never do a facilitator's act: the role table is checked before anything else, and the
table-driven test in ``tests/rooms/test_permissions.py`` lists every action against every role.
"""

from __future__ import annotations

from enum import StrEnum

from rooms.errors import Forbidden
from rooms.model import Participant, Role, Status


class Action(StrEnum):
    AGREE = "agree"
    ADMIT = "admit"
    ADMIT_ALL = "admit.all"
    DENY = "deny"
    REMOVE = "remove"
    SEND_TO_LOBBY = "lobby.send"
    LOCK = "lock"
    UNLOCK = "unlock"
    SET_AGENDA = "agenda.set"
    NEXT_PHASE = "phase.next"
    SET_PHASE = "phase.set"
    RAISE_HAND = "hand.raise"
    LOWER_HAND = "hand.lower"
    GRANT_FLOOR = "floor.grant"
    NEXT_FLOOR = "floor.next"
    RELEASE_FLOOR = "floor.release"
    START_GOAROUND = "goaround.start"
    PASS_TURN = "turn.pass"
    STOP_GOAROUND = "goaround.stop"
    MUTE = "mute"
    ALLOW_UNMUTE = "unmute.allow"
    SET_MEDIA = "media.state"
    SET_RECEIVE = "media.receive"
    NOD = "nod"
    NOTE = "note"
    HELP = "help"
    ACK_HELP = "help.ack"
    SHARE_SAFETY_PLAN = "safety.share"
    ASK_SAFETY_PLAN = "safety.ask"
    END = "end"
    SIDE_START = "side.start"
    SIDE_END = "side.end"
    BREAKOUT_START = "breakout.start"
    BREAKOUT_VISIT = "breakout.visit"
    BREAKOUT_LEAVE = "breakout.leave"
    BREAKOUT_MOVE = "breakout.move"
    BREAKOUT_BROADCAST = "breakout.broadcast"
    BREAKOUT_END = "breakout.end"
    PUBLISH = "rtc.publish"
    ANSWER = "rtc.answer"
    SHARE_MEDIA_KEY = "e2ee.key"  # a browser's public key (or that it cannot encrypt)
    GRANT_MEDIA_KEY = "e2ee.grant"  # the session's media key, wrapped for each admitted participant


_EVERYONE = frozenset(
    {
        Action.SET_MEDIA,
        Action.SET_RECEIVE,
        Action.NOTE,
        Action.PUBLISH,
        Action.ANSWER,
        Action.RELEASE_FLOOR,
        Action.PASS_TURN,
        Action.SHARE_MEDIA_KEY,
    }
)

_LEADS = _EVERYONE | frozenset(
    {
        Action.ADMIT,
        Action.ADMIT_ALL,
        Action.DENY,
        Action.REMOVE,
        Action.SEND_TO_LOBBY,
        Action.LOCK,
        Action.UNLOCK,
        Action.SET_AGENDA,
        Action.NEXT_PHASE,
        Action.SET_PHASE,
        Action.GRANT_FLOOR,
        Action.NEXT_FLOOR,
        Action.START_GOAROUND,
        Action.STOP_GOAROUND,
        Action.MUTE,
        Action.ALLOW_UNMUTE,
        Action.END,
        Action.ASK_SAFETY_PLAN,
        Action.ACK_HELP,
        Action.GRANT_MEDIA_KEY,
        # Places: co-facilitators may do all of these, as they may change phases (which starts a
        # pairs breakout) and end the session; a co-facilitator taking a member aside is the common
        # case, and the practice must go on while the lead facilitator is busy. What is the lead
        # facilitator's alone is acting on another facilitator: sending them aside with a member or
        # ending their side room (``rooms.side_rooms``).
        Action.SIDE_START,
        Action.SIDE_END,
        Action.BREAKOUT_START,
        Action.BREAKOUT_VISIT,
        Action.BREAKOUT_LEAVE,
        Action.BREAKOUT_MOVE,
        Action.BREAKOUT_BROADCAST,
        Action.BREAKOUT_END,
    }
)

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.FACILITATOR: _LEADS,
    Role.COFACILITATOR: _LEADS,
    Role.MEMBER: _EVERYONE
    | frozenset(
        {
            Action.AGREE,
            Action.RAISE_HAND,
            Action.LOWER_HAND,
            Action.NOD,
            Action.HELP,
            Action.SHARE_SAFETY_PLAN,
        }
    ),
}

# A waiting member may accept the agreement, share their emergency plan, set their devices, and talk
# privately to a facilitator (or ask for help) before being let in; nothing else until admitted.
STATUS_ALLOWS: dict[Status, frozenset[Action]] = {
    Status.WAITING: frozenset(
        {Action.AGREE, Action.SHARE_SAFETY_PLAN, Action.SET_MEDIA, Action.NOTE, Action.HELP, Action.SHARE_MEDIA_KEY}
    ),
    Status.ADMITTED: frozenset(Action),
    Status.LEFT: frozenset(),
    Status.REMOVED: frozenset(),
}


def can(role: Role, action: Action) -> bool:
    return action in PERMISSIONS[role]


def check(actor: Participant | None, action: Action) -> Participant:
    """Return the actor when the act is allowed, else raise ``Forbidden`` saying why."""
    if actor is None:
        raise Forbidden("not a participant of this session")
    if not can(actor.role, action):
        raise Forbidden(f"a {actor.role} may not {action}")
    if action not in STATUS_ALLOWS[actor.status]:
        raise Forbidden(f"not allowed while {actor.status}")
    return actor
