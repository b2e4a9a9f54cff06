"""Practice in pairs: breakout groups for a few minutes, then back to share.

A facilitator (or co-facilitator) sends the members into groups: groups they name, or the members in
the main room shuffled into groups of two or three. Each group hears and sees only itself
(``rooms.places``). Facilitators stay in the main room and may visit a group, to listen only (the
group sees them and knows they are listening, but does not hear them) or to speak. One minute before
the time is up the groups are warned; then everyone returns to the main room, through ``tick``. A
phase whose floor mode is ``pairs`` starts a breakout of pairs for its minutes when it is entered,
and any phase change ends a running breakout: a breakout belongs to the phase it was started in, as
a go-around does.

While the session is on hold (no facilitator connected) the groups carry on and their clock stops,
as turn timers do: sending everyone back to a main room without a facilitator, who then would lead
the sharing, helps nobody; the time left resumes when a facilitator returns (``resume_after_hold``).

Shuffling needs randomness, which ``rooms`` may not take from anywhere: the command carries a seed
(the signaling layer draws it from ``secrets``), and the order is a keyed hash of each id, so the same
seed gives the same groups in tests.
"""

from __future__ import annotations

import hashlib

from rooms import commands as c
from rooms.errors import Conflict, Invalid, NotFound
from rooms.events import Audited, BreakoutWarned, Event, GroupsBroadcast, MediaPolicyChanged, StateChanged
from rooms.model import (
    BREAKOUT_WARNING_SECONDS,
    MAIN,
    MAX_PARTICIPANTS,
    SIDE_PREFIX,
    Breakout,
    Participant,
    Role,
    Session,
    Status,
    group_of,
    group_place,
)
from rooms.places import end_breakout, move
from rooms.signals import MAX_NOTE_CHARS

MAX_BREAKOUT_MINUTES = 60.0
GROUP_SIZES = (2, 3)
PAIRS = 2
_CHANGED: list[Event] = [StateChanged(), MediaPolicyChanged()]


def start(s: Session, actor: Participant, cmd: c.StartBreakout, now: float) -> list[Event]:
    if s.breakout is not None:
        raise Conflict("a breakout is already running")
    if not 0 < cmd.minutes <= MAX_BREAKOUT_MINUTES:
        raise Invalid(f"a breakout lasts more than 0 and at most {MAX_BREAKOUT_MINUTES:g} minutes")
    if cmd.groups is not None and cmd.size is not None:
        raise Invalid("give either the groups or their size, not both")
    groups = _named_groups(s, cmd.groups) if cmd.groups is not None else _shuffled(s, cmd.size or PAIRS, cmd.seed)
    _open(s, groups, cmd.minutes, now)
    return [*_CHANGED, Audited("breakout.start")]


def start_for_phase(s: Session, minutes: float, seed: int, now: float) -> list[Event]:
    """A ``pairs`` phase was entered: pairs for the phase's minutes, when there are two to pair."""
    here = _members_in_main(s)
    if len(here) < 2:
        return []
    _open(s, _split(_shuffle(here, seed), PAIRS), min(minutes, MAX_BREAKOUT_MINUTES), now)
    return list(_CHANGED)


def visit(s: Session, actor: Participant, cmd: c.VisitGroup, now: float) -> list[Event]:
    place = _group(s, cmd.group)
    if actor.place.startswith(SIDE_PREFIX):
        raise Conflict("you are in a side room")
    if actor.place == place and actor.listen_only == cmd.listen_only:
        return []
    move(s, actor, place, now)
    actor.listen_only = cmd.listen_only
    return [*_CHANGED, Audited("breakout.visit")]  # the record names people, and a group is none


def leave(s: Session, actor: Participant, cmd: c.LeaveGroup, now: float) -> list[Event]:
    if group_of(actor.place) is None:
        raise Conflict("you are not visiting a group")
    move(s, actor, MAIN, now)
    return list(_CHANGED)


def move_member(s: Session, actor: Participant, cmd: c.MoveToGroup, now: float) -> list[Event]:
    """Put a member in another group, a latecomer in one, or someone back in the main room."""
    if s.breakout is None:
        raise Conflict("no breakout is running")
    place = _group(s, cmd.group) if cmd.group is not None else MAIN
    member = _movable(s, cmd.id)
    if member.place == place:
        return []
    move(s, member, place, now)
    return [*_CHANGED, Audited("breakout.move", member.id)]


def broadcast(s: Session, actor: Participant, cmd: c.BroadcastToGroups, now: float) -> list[Event]:
    if s.breakout is None:
        raise Conflict("no breakout is running")
    if not cmd.text.strip() or len(cmd.text) > MAX_NOTE_CHARS:
        raise Invalid(f"a message has 1 to {MAX_NOTE_CHARS} characters")
    return [GroupsBroadcast(actor.id, cmd.text, now), Audited("breakout.broadcast")]


def end(s: Session, actor: Participant, cmd: c.EndBreakout, now: float) -> list[Event]:
    if s.breakout is None:
        raise Conflict("no breakout is running")
    end_breakout(s, now)
    return [*_CHANGED, Audited("breakout.end")]


def tick(s: Session, now: float) -> list[Event]:
    """The one-minute warning, then everyone back in the main room when the time is up."""
    b = s.breakout
    if b is None:
        return []
    if now >= b.ends_at:
        end_breakout(s, now)
        return list(_CHANGED)
    if not b.warned and now >= b.ends_at - BREAKOUT_WARNING_SECONDS:
        b.warned = True
        return [StateChanged(), BreakoutWarned(b.ends_at)]
    return []


def resume_after_hold(s: Session, hold_since: float, now: float) -> None:
    """The groups' clock stood still while nobody led the session: give them back the time."""
    b = s.breakout
    if b is not None:
        b.ends_at += now - max(hold_since, b.started_at)


def group_sizes(members: int, size: int) -> list[int]:
    """How many in each group: as many groups of ``size`` as there are members for, the rest spread
    one each (an odd member makes a three), never a group of one.

    Four members in threes make two pairs, five make a three and a pair, seven a three and two pairs.
    """
    count = max(1, -(-members // size))
    if members < 2 * count:
        count = max(1, members // size)
    return [members // count + (1 if i < members % count else 0) for i in range(count)]


def _open(s: Session, groups: list[list[str]], minutes: float, now: float) -> None:
    ends_at = now + minutes * 60.0
    s.breakout = Breakout(
        groups=len(groups),
        minutes=minutes,
        started_at=now,
        ends_at=ends_at,
        warned=minutes * 60.0 <= BREAKOUT_WARNING_SECONDS,  # a one-minute breakout has no warning
    )
    for index, group in enumerate(groups):
        for pid in group:
            move(s, s.participants[pid], group_place(index), now)


def _named_groups(s: Session, groups: tuple[tuple[str, ...], ...]) -> list[list[str]]:
    if not groups or len(groups) > MAX_PARTICIPANTS or not all(groups):
        raise Invalid(f"1 to {MAX_PARTICIPANTS} groups, none empty")
    named = [pid for group in groups for pid in group]
    if len(set(named)) != len(named):
        raise Invalid("the groups name someone twice")
    for pid in named:
        _movable(s, pid)
    return [list(group) for group in groups]


def _movable(s: Session, pid: str) -> Participant:
    """A member in the room and not aside: only members are put in groups; facilitators visit."""
    p = s.participants.get(pid)
    if p is None:
        raise NotFound(f"no participant {pid}")
    if p.role is not Role.MEMBER:
        raise Invalid("facilitators visit groups; only members are put in one")
    if p.status is not Status.ADMITTED:
        raise Conflict(f"{pid} is not in the room")
    if p.place.startswith(SIDE_PREFIX):
        raise Conflict(f"{pid} is in a side room")
    return p


def _shuffled(s: Session, size: int, seed: int) -> list[list[str]]:
    if size not in GROUP_SIZES:
        raise Invalid("groups of 2 or 3")
    here = _members_in_main(s)
    if len(here) < 2:
        raise Conflict("fewer than two members in the main room")
    return _split(_shuffle(here, seed), size)


def _members_in_main(s: Session) -> list[str]:
    return [
        p.id for p in s.participants.values() if p.status is Status.ADMITTED and p.role is Role.MEMBER and not p.away
    ]


def _shuffle(ids: list[str], seed: int) -> list[str]:
    """A permutation chosen by ``seed``: ids ordered by a keyed hash, the same for the same seed."""
    return sorted(ids, key=lambda pid: hashlib.blake2b(f"{seed}:{pid}".encode(), digest_size=16).digest())


def _split(ids: list[str], size: int) -> list[list[str]]:
    groups, start = [], 0
    for n in group_sizes(len(ids), size):
        groups.append(ids[start : start + n])
        start += n
    return groups


def _group(s: Session, index: int) -> str:
    if s.breakout is None:
        raise Conflict("no breakout is running")
    if not 0 <= index < s.breakout.groups:
        raise NotFound(f"no group {index}")
    return group_place(index)
