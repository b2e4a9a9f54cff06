"""Random commands from random actors at increasing times; the session's invariants hold after each.

Every step is a command (or a ``tick``) at a time no earlier than the last. After each step:
one floor holder at most, and admitted; queue and go-around only of admitted people, each once;
the go-around's speaker holds the floor; every participant is in exactly one place that exists,
the floor's holder in the main room, each side room holding its member and its facilitator, and
nobody receiving anything of someone in another place; the hold matches "live with no facilitator connected";
nobody is in the room before a facilitator came; a forced mute keeps the mic off; the removed stay
removed; a first arrival time never changes; the version never decreases and moves exactly when
state changed; a refusal is a ``RoomError`` and leaves no trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import permutations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import RoomError
from rooms.events import Event, changes_record
from rooms.model import (
    DEFAULT_AGENDA,
    MAIN,
    SIDE_PREFIX,
    Admission,
    FloorMode,
    Phase,
    Role,
    Session,
    SessionStatus,
    Status,
    group_of,
)
from rooms.places import hears, sees
from tests.rooms.helpers import COFAC, FAC, snapshot

MEMBERS = ("m0", "m1", "m2", "m3", "m4")
ACTORS = (FAC, COFAC, *MEMBERS)
ROLES = {FAC: Role.FACILITATOR, COFAC: Role.COFACILITATOR} | {m: Role.MEMBER for m in MEMBERS}

ids = st.sampled_from(MEMBERS) | st.sampled_from((FAC, COFAC, "ghost"))
turn = st.none() | st.sampled_from((0.0, 5.0, 30.0, 120.0))
phase = st.builds(
    Phase,
    st.sampled_from(("talk", "practice", "skills", "")),
    st.sampled_from((10, 1, 20, 0)),
    st.sampled_from(tuple(FloorMode)),
)
STRICT_AGENDA = [Phase("practice", 20, FloorMode.STRICT), Phase("talk", 10, FloorMode.HANDS)]
PAIRS_AGENDA = [
    Phase("talk", 10, FloorMode.STRICT),
    Phase("pairs", 1, FloorMode.PAIRS),
    Phase("share", 5, FloorMode.OPEN),
]
AGENDAS = {"default": list(DEFAULT_AGENDA), "strict": STRICT_AGENDA, "pairs": PAIRS_AGENDA}

FLOOR_COMMANDS = st.one_of(
    st.builds(c.GrantFloor, ids, turn),
    st.builds(c.NextFloor, turn),
    st.just(c.ReleaseFloor()),
    st.builds(c.StartGoAround, st.none() | st.lists(ids, max_size=4).map(tuple), turn),
    st.just(c.StopGoAround()),
)
group_ids = st.sampled_from((0, 0, 1, 1, 2, -1, 3))
PLACE_COMMANDS = st.one_of(
    st.builds(c.StartSideRoom, ids, st.none() | ids),
    st.builds(c.EndSideRoom, st.none() | ids),
    st.builds(
        c.StartBreakout,
        st.sampled_from((5.0, 1.0, 0.5, 0.0)),
        st.one_of(st.none(), st.none(), st.lists(st.lists(ids, max_size=3).map(tuple), max_size=3).map(tuple)),
        st.sampled_from((None, None, 2, 3, 4)),
        st.integers(0, 3),
    ),
    st.builds(c.VisitGroup, group_ids, st.booleans()),
    st.just(c.LeaveGroup()),
    st.builds(c.MoveToGroup, ids, st.none() | group_ids),
    st.builds(c.BroadcastToGroups, st.sampled_from(("swap roles now", " "))),
    st.just(c.EndBreakout()),
    st.builds(c.NextPhase, st.integers(0, 3)),
    st.builds(c.SetPhase, st.integers(-1, 3), st.integers(0, 3)),
)
LEAD_COMMANDS = st.one_of(
    st.builds(c.Admit, ids),
    st.just(c.AdmitAll()),
    st.builds(c.Deny, ids),
    st.builds(c.Remove, ids),
    st.just(c.Lock()),
    st.just(c.Unlock()),
    st.builds(c.SetAgenda, st.lists(phase, max_size=3).map(tuple)),
    st.just(c.NextPhase()),
    st.builds(c.SetPhase, st.integers(-1, 5)),
    FLOOR_COMMANDS,
    st.builds(c.Mute, ids),
    st.builds(c.AllowUnmute, ids),
    st.builds(c.AskSafetyPlan, st.none() | ids),
    st.builds(c.Note, ids, st.sampled_from(("hi", "", "a private word"))),
    PLACE_COMMANDS,
)
MEMBER_COMMANDS = st.one_of(
    st.just(c.Agree()),
    st.just(c.RaiseHand()),
    st.just(c.LowerHand()),
    st.just(c.ReleaseFloor()),
    st.just(c.PassTurn()),
    st.builds(c.SetMedia, st.booleans(), st.booleans()),
    st.just(c.Nod()),
    st.builds(c.Note, ids, st.sampled_from(("hi", "", "a private word"))),
    st.just(c.Help()),
    st.builds(c.ShareSafetyPlan, st.sampled_from(("at home", "", "work")), st.sampled_from(("Sam 555 0100", " "))),
)
SYSTEM_COMMANDS = st.one_of(
    st.just(c.Disconnect()),
    st.builds(c.SetPublishing, st.booleans()),
    st.builds(c.RecordSpeaking, st.lists(st.tuples(ids, st.sampled_from((0.0, 1.5))), max_size=2).map(tuple)),
)
ANY_COMMAND = st.one_of(LEAD_COMMANDS, MEMBER_COMMANDS, SYSTEM_COMMANDS, PLACE_COMMANDS)
gaps = st.sampled_from((0.0, 0.5, 1.0, 3.0, 20.0, 61.0))


@dataclass(frozen=True)
class Step:
    actor: str
    command: c.Command | None  # None: a connection for the actor's own role, or a tick
    dt: float
    tick: bool = False


leads = st.sampled_from((FAC, COFAC))
steps = st.one_of(
    st.builds(Step, leads, FLOOR_COMMANDS, gaps),
    st.builds(Step, leads, PLACE_COMMANDS, gaps),
    st.builds(Step, leads, PLACE_COMMANDS, gaps),
    st.builds(Step, leads, LEAD_COMMANDS, gaps),
    st.builds(Step, st.sampled_from(MEMBERS), MEMBER_COMMANDS, gaps),
    st.builds(Step, st.sampled_from(MEMBERS), MEMBER_COMMANDS, gaps),
    st.builds(Step, st.sampled_from(ACTORS), st.just(c.Disconnect()), gaps),
    st.builds(Step, st.sampled_from(ACTORS), ANY_COMMAND, gaps),  # anyone trying anything
    st.builds(Step, st.sampled_from(ACTORS), st.none(), st.sampled_from((0.0, 1.0, 30.0))),  # connect
    st.builds(Step, st.just(FAC), st.none(), st.sampled_from((1.0, 30.0, 61.0, 600.0)), st.just(True)),
)


def command_for(step: Step) -> c.Command:
    if step.command is not None:
        return step.command
    return c.Connect(name=step.actor.upper(), role=ROLES[step.actor])


def check_invariants(s: Session) -> None:
    admitted = {p.id for p in s.admitted()}
    if s.floor is not None:
        assert s.floor.holder in admitted
    assert len(s.queue) == len(set(s.queue))
    assert set(s.queue) <= admitted
    g = s.go_around
    if g is not None:
        assert len(g.order) == len(set(g.order))
        assert set(g.order) <= admitted
        assert 0 <= g.position < len(g.order)
        assert s.floor is not None and s.floor.holder == g.current
    assert 0 <= s.phase_index < len(s.agenda)
    if s.floor is not None and s.floor.ends_at is not None:
        assert s.floor.since < s.floor.ends_at < float("inf")
    assert sum(1 for p in s.admitted() if p.role is Role.MEMBER) <= s.max_participants
    for p in s.participants.values():
        assert not (p.role.leads and p.status is Status.WAITING)
        assert not (p.forced_mute and p.audio)
        if s.audible(p.id):
            assert p.status is Status.ADMITTED
        if s.requires_safety_plan and p.role is Role.MEMBER and p.status is Status.ADMITTED:
            assert p.safety_shared  # nobody enters without having given the facilitators their plan
    if s.status is SessionStatus.OPEN:
        assert admitted == set()
    if s.status is SessionStatus.LIVE:
        assert s.on_hold == (not s.leaders_present())
    if s.ended:
        assert s.floor is None and s.go_around is None and s.queue == []
        assert all(p.status in (Status.LEFT, Status.REMOVED) for p in s.participants.values())
        assert s.breakout is None and s.side_rooms == {}
    check_places(s)


def check_places(s: Session) -> None:
    """Each participant in exactly one place that exists; the main room's turns only in it; media
    only within a place."""
    if s.floor is not None:
        assert not s.participants[s.floor.holder].away
    for p in s.participants.values():
        if p.away:
            assert p.status is Status.ADMITTED, p
        if p.listen_only:
            assert p.role.leads and group_of(p.place) is not None, p
        index = group_of(p.place)
        if index is not None:
            assert s.breakout is not None and 0 <= index < s.breakout.groups, p
        elif p.place.startswith(SIDE_PREFIX):
            room = s.side_rooms[p.place[len(SIDE_PREFIX) :]]
            assert p.id in (room.member, room.lead), p
        else:
            assert p.place == MAIN, p
    for key, room in s.side_rooms.items():
        member, lead = s.participants[room.member], s.participants[room.lead]
        assert key == room.member and member.role is Role.MEMBER and lead.role.leads
        assert member.place == lead.place == SIDE_PREFIX + key
        assert room.back_to == MAIN or (group_of(room.back_to) is not None and s.breakout is not None)
    if s.breakout is not None:
        assert s.breakout.started_at < s.breakout.ends_at
    ids = [p.id for p in s.participants.values()]
    for r, p in permutations(ids, 2):
        if sees(s, r, p):
            assert sees(s, p, r) and s.participants[r].place == s.participants[p].place
        if hears(s, r, p):
            assert sees(s, r, p)


def run_step(s: Session, step: Step, now: float) -> None:
    before = snapshot(s)
    version = s.version
    events: list[Event]
    try:
        events = tick(s, now) if step.tick else apply(s, step.actor, command_for(step), now)
    except RoomError:
        assert snapshot(s) == before, f"refused {step} but changed the session"
        return
    assert s.version == version + (1 if changes_record(events) else 0)
    if not changes_record(events):  # only nod and help rate-limit stamps may change unannounced
        after = snapshot(s)
        for data in (before, after):
            for p in data["participants"]:
                p.pop("last_nod_at")
                p.pop("last_help_at")
                p.pop("last_safety_at")
        assert after == before, f"{step} changed the session without saying so"


def seat(s: Session, members: int, cofacilitator: bool) -> None:
    """Start from a live room: the facilitator (and co-facilitator), then members let in at t=0."""
    for actor, command in [
        (FAC, command_for(Step(FAC, None, 0.0))),
        *([(COFAC, command_for(Step(COFAC, None, 0.0)))] if cofacilitator else []),
        *[
            (m, cmd)
            for m in MEMBERS[:members]
            for cmd in (command_for(Step(m, None, 0.0)), c.Agree(), c.ShareSafetyPlan("home", "Sam 555 0100"))
        ],
        *[(FAC, c.Admit(m)) for m in MEMBERS[:members]],
    ]:
        run_step(s, Step(actor, command, 0.0), 0.0)
        check_invariants(s)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    admission=st.sampled_from(tuple(Admission)),
    requires_agreement=st.booleans(),
    requires_safety_plan=st.booleans(),
    max_participants=st.sampled_from((8, 12, 6, 3)),
    grace=st.sampled_from((5.0, 60.0)),
    agenda=st.sampled_from(("default", "strict", "pairs")),
    start=st.sampled_from((True, True, True, False)),
    seated=st.integers(0, len(MEMBERS)).map(lambda n: len(MEMBERS) - n),
    cofacilitator=st.booleans(),
    plan=st.lists(steps, min_size=15, max_size=50),
    end=st.booleans(),
)
def test_random_sessions_keep_their_invariants(
    admission: Admission,
    requires_agreement: bool,
    requires_safety_plan: bool,
    max_participants: int,
    grace: float,
    agenda: str,
    start: bool,
    seated: int,
    cofacilitator: bool,
    plan: list[Step],
    end: bool,
) -> None:
    s = Session(
        id="s",
        title="t",
        created_at=0.0,
        admission=admission,
        requires_agreement=requires_agreement,
        requires_safety_plan=requires_safety_plan,
        max_participants=max_participants,
        grace_seconds=grace,
        agenda=list(AGENDAS[agenda]),
    )
    if start:
        seat(s, seated, cofacilitator)
    now = 0.0
    removed: set[str] = set()
    joined: dict[str, float] = {}
    for step in plan:
        now += step.dt
        run_step(s, step, now)
        check_invariants(s)
        assert removed <= {p.id for p in s.participants.values() if p.status is Status.REMOVED}
        removed = {p.id for p in s.participants.values() if p.status is Status.REMOVED}
        for p in s.participants.values():  # attendance keeps the first arrival, whatever happens
            if p.joined_at is not None:
                assert joined.setdefault(p.id, p.joined_at) == p.joined_at
    if end:
        run_step(s, Step(FAC, c.End(), 1.0), now + 1.0)
        run_step(s, Step(COFAC, c.End(), 1.0), now + 1.0)
        check_invariants(s)
        if s.ended:
            frozen = snapshot(s)
            for step in plan[:10]:
                run_step(s, step, now + 2.0)
            assert snapshot(s) == frozen


shuffled_breakout = st.builds(
    c.StartBreakout, st.just(5.0), st.none(), st.sampled_from((None, 2, 3)), st.integers(0, 3)
)
place_steps = st.one_of(
    st.builds(Step, leads, PLACE_COMMANDS, gaps),
    st.builds(Step, leads, PLACE_COMMANDS, gaps),
    st.builds(Step, leads, shuffled_breakout, gaps),
    st.builds(Step, leads, st.builds(c.VisitGroup, group_ids, st.booleans()), gaps),
    st.builds(Step, leads, st.builds(c.StartSideRoom, ids, st.none() | ids), gaps),
    st.builds(Step, leads, st.builds(c.StartGoAround, st.none() | st.lists(ids, max_size=4).map(tuple)), gaps),
    st.builds(Step, leads, FLOOR_COMMANDS, gaps),
    st.builds(Step, leads, st.builds(c.Mute, ids) | st.builds(c.AllowUnmute, ids) | st.builds(c.Remove, ids), gaps),
    st.builds(Step, leads, st.builds(c.SendToLobby, ids) | st.builds(c.Admit, ids), gaps),
    st.builds(Step, st.sampled_from(MEMBERS), MEMBER_COMMANDS, gaps),
    st.builds(Step, st.sampled_from(ACTORS), st.just(c.Disconnect()), gaps),
    st.builds(Step, st.sampled_from(ACTORS), st.none(), st.sampled_from((0.0, 1.0, 30.0))),  # (re)connect
    st.builds(Step, st.just(FAC), st.none(), st.sampled_from((1.0, 11.0, 30.0, 61.0)), st.just(True)),  # tick
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    agenda=st.sampled_from(("default", "strict", "pairs")),
    grace=st.sampled_from((5.0, 60.0)),
    plan=st.lists(place_steps, min_size=20, max_size=60),
)
def test_random_sessions_with_side_rooms_and_breakouts_keep_their_invariants(
    agenda: str, grace: float, plan: list[Step]
) -> None:
    """A full room (facilitator, co-facilitator, five members) where places change most steps."""
    run_full_room(agenda, grace, plan, check_invariants)


def run_full_room(agenda: str, grace: float, plan: list[Step], check: Callable[[Session], None]) -> None:
    """Seat a full room (facilitator, co-facilitator, every member), then run ``plan``, checking each step."""
    s = Session(id="s", title="t", created_at=0.0, grace_seconds=grace, agenda=list(AGENDAS[agenda]))
    seat(s, len(MEMBERS), cofacilitator=True)
    now = 0.0
    for step in plan:
        now += step.dt
        run_step(s, step, now)
        check(s)
