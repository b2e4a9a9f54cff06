"""Practice in groups: starting, shuffling, visiting, moving, broadcasting, the timer, and how a
breakout meets phases, holds, drops, removals and the main room's turns.

Every rule is driven through ``controller.apply`` and ``tick`` with explicit times; no event loop.
"""

from __future__ import annotations

import json
import math

import pytest

from rooms import commands as c
from rooms.breakouts import MAX_BREAKOUT_MINUTES, group_sizes
from rooms.codec import session_to_dict
from rooms.controller import apply, tick
from rooms.errors import Conflict, Forbidden, Invalid, NotFound, RoomError
from rooms.events import Audited, BreakoutWarned, GroupsBroadcast, MediaPolicyChanged, StateChanged
from rooms.model import BREAKOUT_WARNING_SECONDS, MAIN, FloorMode, Phase, Role, Session, Status
from rooms.signals import MAX_NOTE_CHARS
from tests.rooms.helpers import COFAC, FAC, Refusal, admit_member, assert_refused, connect, live_group, snapshot

MEMBERS = ("ann", "bob", "cat", "dan", "eve")
PAIRS_AGENDA = (
    Phase("teach", 10, FloorMode.HANDS),
    Phase("practise in pairs", 5, FloorMode.PAIRS),
    Phase("share back", 10, FloorMode.HANDS),
)


def group(members: tuple[str, ...] = MEMBERS) -> Session:
    """Facilitator, co-facilitator and members in the main room; zed waiting in the lobby."""
    s = live_group(members, cofacilitator=True)
    connect(s, "zed", now=8.0)
    return s


def places(s: Session) -> dict[str, str]:
    return {p.id: p.place for p in s.admitted()}


def groups_of(s: Session) -> list[list[str]]:
    """The members of each group, from where everyone is (the one record of it)."""
    assert s.breakout is not None
    members = [p for p in s.admitted() if not p.role.leads]
    return [[p.id for p in members if p.place == f"group:{i}"] for i in range(s.breakout.groups)]


def paired(s: Session, at: float = 10.0, minutes: float = 5) -> Session:
    apply(s, FAC, c.StartBreakout(minutes, groups=(("ann", "bob"), ("cat", "dan"))), at)
    return s


# (members, size, the sizes of the groups): two or three each, never anyone alone.
SIZES = [
    (2, 2, [2]),
    (3, 2, [3]),
    (4, 2, [2, 2]),
    (5, 2, [3, 2]),
    (6, 2, [2, 2, 2]),
    (7, 2, [3, 2, 2]),
    (2, 3, [2]),
    (3, 3, [3]),
    (4, 3, [2, 2]),
    (5, 3, [3, 2]),
    (6, 3, [3, 3]),
    (7, 3, [3, 2, 2]),
    (8, 3, [3, 3, 2]),
    (10, 3, [3, 3, 2, 2]),
    (12, 2, [2, 2, 2, 2, 2, 2]),
]


@pytest.mark.parametrize(("members", "size", "sizes"), SIZES)
def test_group_sizes(members: int, size: int, sizes: list[int]) -> None:
    assert group_sizes(members, size) == sizes


@pytest.mark.parametrize("size", [2, 3])
@pytest.mark.parametrize("n", range(2, 13))
def test_group_sizes_place_everyone_and_leave_nobody_alone(n: int, size: int) -> None:
    sizes = group_sizes(n, size)
    assert sum(sizes) == n and min(sizes) >= 2 and max(sizes) - min(sizes) <= 1


def test_named_groups_put_each_member_in_their_group_and_the_rest_stay() -> None:
    s = group()
    events = apply(s, FAC, c.StartBreakout(5, groups=(("ann", "bob"), ("cat", "dan"))), 10.0)
    assert places(s) == {
        FAC: MAIN,
        COFAC: MAIN,
        "ann": "group:0",
        "bob": "group:0",
        "cat": "group:1",
        "dan": "group:1",
        "eve": MAIN,
    }
    assert s.breakout is not None and s.breakout.groups == 2 and s.breakout.ends_at == 10.0 + 5 * 60
    assert StateChanged() in events and MediaPolicyChanged() in events and Audited("breakout.start") in events


@pytest.mark.parametrize("size", [2, 3])
def test_shuffled_groups_take_every_member_of_the_main_room_once(size: int) -> None:
    s = group()
    apply(s, COFAC, c.StartSideRoom("eve"), 9.0)  # aside: not shuffled into a group
    apply(s, FAC, c.StartBreakout(5, size=size, seed=7), 10.0)
    groups = groups_of(s)
    assert sorted(pid for g in groups for pid in g) == ["ann", "bob", "cat", "dan"]
    assert [len(g) for g in groups] == group_sizes(4, size)
    assert places(s)["eve"] == "side:eve" == places(s)[COFAC] and places(s)[FAC] == MAIN


def test_the_same_seed_gives_the_same_groups_and_seeds_differ() -> None:
    def shuffle(seed: int) -> list[list[str]]:
        s = group()
        apply(s, FAC, c.StartBreakout(5, size=2, seed=seed), 10.0)
        return groups_of(s)

    assert shuffle(1) == shuffle(1)
    assert len({json.dumps(shuffle(seed)) for seed in range(20)}) > 1


def test_without_groups_or_size_the_main_room_goes_in_pairs() -> None:
    s = group(("ann", "bob", "cat", "dan"))
    apply(s, FAC, c.StartBreakout(5), 10.0)
    assert [len(g) for g in groups_of(s)] == [2, 2]


# (case, actor, setup, command, error): each refusal leaves the session exactly as it was.
START_REFUSALS: list[Refusal] = [
    ("a member cannot start one", "ann", [], c.StartBreakout(5), Forbidden),
    ("a waiting member cannot start one", "zed", [], c.StartBreakout(5), Forbidden),
    ("one at a time", FAC, [(FAC, c.StartBreakout(5))], c.StartBreakout(5), Conflict),
    ("no time", FAC, [], c.StartBreakout(0), Invalid),
    ("negative time", FAC, [], c.StartBreakout(-1), Invalid),
    ("NaN minutes", FAC, [], c.StartBreakout(math.nan), Invalid),
    ("too long", FAC, [], c.StartBreakout(MAX_BREAKOUT_MINUTES + 1), Invalid),
    ("groups and a size", FAC, [], c.StartBreakout(5, groups=(("ann", "bob"),), size=2), Invalid),
    ("groups of four", FAC, [], c.StartBreakout(5, size=4), Invalid),
    ("no groups", FAC, [], c.StartBreakout(5, groups=()), Invalid),
    ("an empty group", FAC, [], c.StartBreakout(5, groups=(("ann", "bob"), ())), Invalid),
    ("someone twice", FAC, [], c.StartBreakout(5, groups=(("ann", "bob"), ("ann", "cat"))), Invalid),
    ("a facilitator in a group", FAC, [], c.StartBreakout(5, groups=(("ann", COFAC),)), Invalid),
    ("someone unknown", FAC, [], c.StartBreakout(5, groups=(("ann", "nobody"),)), NotFound),
    ("someone waiting", FAC, [], c.StartBreakout(5, groups=(("ann", "zed"),)), Conflict),
    ("someone aside", FAC, [(COFAC, c.StartSideRoom("bob"))], c.StartBreakout(5, groups=(("ann", "bob"),)), Conflict),
    (
        "fewer than two in the main room to shuffle",
        FAC,
        [(FAC, c.StartBreakout(5, groups=(("ann", "bob", "cat", "dan"),))), (FAC, c.EndBreakout())]
        + [(FAC, c.Remove(m)) for m in ("bob", "cat", "dan", "eve")],
        c.StartBreakout(5, size=2),
        Conflict,
    ),
]


@pytest.mark.parametrize(
    ("case", "actor", "setup", "command", "error"), START_REFUSALS, ids=[r[0] for r in START_REFUSALS]
)
def test_start_refusals_change_nothing(
    case: str, actor: str, setup: list[tuple[str, c.Command]], command: c.Command, error: type[RoomError]
) -> None:
    assert_refused(group(), actor, setup, command, error, 10.0)


# While a breakout runs: (case, actor, setup, command, error).
RUNNING_REFUSALS: list[Refusal] = [
    ("a member cannot visit", "eve", [], c.VisitGroup(0), Forbidden),
    ("a member cannot move anyone", "ann", [], c.MoveToGroup("bob", 1), Forbidden),
    ("a member cannot broadcast", "ann", [], c.BroadcastToGroups("hello"), Forbidden),
    ("a member cannot end it", "ann", [], c.EndBreakout(), Forbidden),
    ("a member cannot leave a group for the main room", "ann", [], c.LeaveGroup(), Forbidden),
    ("no such group to visit", COFAC, [], c.VisitGroup(2), NotFound),
    ("no visit from a side room", COFAC, [(COFAC, c.StartSideRoom("eve"))], c.VisitGroup(0), Conflict),
    ("leaving when not visiting", COFAC, [], c.LeaveGroup(), Conflict),
    ("no such group to move to", FAC, [], c.MoveToGroup("eve", 5), NotFound),
    ("facilitators are not moved into groups", FAC, [], c.MoveToGroup(COFAC, 0), Invalid),
    ("nobody of that id", FAC, [], c.MoveToGroup("nobody", 0), NotFound),
    ("a waiting member is not moved", FAC, [], c.MoveToGroup("zed", 0), Conflict),
    ("a member aside is not moved", FAC, [(COFAC, c.StartSideRoom("eve"))], c.MoveToGroup("eve", 0), Conflict),
    ("a blank broadcast", FAC, [], c.BroadcastToGroups("  "), Invalid),
    ("an overlong broadcast", FAC, [], c.BroadcastToGroups("x" * (MAX_NOTE_CHARS + 1)), Invalid),
]


@pytest.mark.parametrize(
    ("case", "actor", "setup", "command", "error"), RUNNING_REFUSALS, ids=[r[0] for r in RUNNING_REFUSALS]
)
def test_refusals_while_running_change_nothing(
    case: str, actor: str, setup: list[tuple[str, c.Command]], command: c.Command, error: type[RoomError]
) -> None:
    assert_refused(paired(group()), actor, setup, command, error, 12.0)


@pytest.mark.parametrize(
    "command",
    [c.VisitGroup(0), c.MoveToGroup("ann", 0), c.BroadcastToGroups("hello"), c.EndBreakout()],
    ids=["visit", "move", "broadcast", "end"],
)
def test_acts_on_a_breakout_need_one_running(command: c.Command) -> None:
    s = group()
    before = snapshot(s)
    with pytest.raises(Conflict):
        apply(s, FAC, command, 10.0)
    assert snapshot(s) == before


@pytest.mark.parametrize("listen_only", [True, False])
def test_a_facilitator_visits_a_group_and_returns(listen_only: bool) -> None:
    s = paired(group())
    events = apply(s, COFAC, c.VisitGroup(1, listen_only=listen_only), 11.0)
    cofac = s.participants[COFAC]
    assert cofac.place == "group:1" and cofac.listen_only is listen_only
    assert s.audible(COFAC) is not listen_only
    assert MediaPolicyChanged() in events and Audited("breakout.visit") in events
    assert apply(s, COFAC, c.VisitGroup(1, listen_only=listen_only), 12.0) == []  # already there
    apply(s, COFAC, c.VisitGroup(1, listen_only=not listen_only), 13.0)  # speak up, or fall quiet
    assert cofac.listen_only is not listen_only
    apply(s, COFAC, c.VisitGroup(0), 14.0)  # on to the next group
    assert cofac.place == "group:0"
    apply(s, COFAC, c.LeaveGroup(), 15.0)
    assert cofac.place == MAIN and not cofac.listen_only and s.audible(COFAC)


def test_a_facilitator_moves_members_between_groups_and_back_to_the_main_room() -> None:
    s = paired(group())
    events = apply(s, FAC, c.MoveToGroup("eve", 0), 11.0)
    assert groups_of(s) == [["ann", "bob", "eve"], ["cat", "dan"]]
    assert Audited("breakout.move", "eve") in events and MediaPolicyChanged() in events
    apply(s, FAC, c.MoveToGroup("ann", 1), 12.0)
    apply(s, COFAC, c.MoveToGroup("bob", None), 13.0)
    assert groups_of(s) == [["eve"], ["ann", "cat", "dan"]] and places(s)["bob"] == MAIN
    assert apply(s, FAC, c.MoveToGroup("bob", None), 14.0) == []


def test_a_latecomer_starts_in_the_main_room_and_can_be_put_in_a_group() -> None:
    s = paired(group())
    apply(s, "zed", c.Agree(), 11.0)
    apply(s, FAC, c.Admit("zed"), 12.0)
    assert places(s)["zed"] == MAIN
    apply(s, FAC, c.MoveToGroup("zed", 1), 13.0)
    assert groups_of(s)[1] == ["cat", "dan", "zed"]


def test_a_broadcast_is_delivered_to_the_groups_and_never_stored() -> None:
    s = paired(group())
    before = snapshot(s)
    events = apply(s, COFAC, c.BroadcastToGroups("Two more minutes, then swap roles"), 11.0)
    assert events == [GroupsBroadcast(COFAC, "Two more minutes, then swap roles", 11.0), Audited("breakout.broadcast")]
    assert snapshot(s) == before and "swap roles" not in json.dumps(session_to_dict(s))


def test_the_groups_are_warned_a_minute_before_and_return_when_the_time_is_up() -> None:
    s = paired(group(), at=10.0, minutes=5)
    ends_at = 10.0 + 300
    assert tick(s, ends_at - BREAKOUT_WARNING_SECONDS - 0.1) == []
    events = tick(s, ends_at - BREAKOUT_WARNING_SECONDS)
    assert BreakoutWarned(ends_at) in events and StateChanged() in events
    assert s.breakout is not None and s.breakout.warned
    assert tick(s, ends_at - 1) == []  # warned once
    events = tick(s, ends_at)
    assert s.breakout is None and set(places(s).values()) == {MAIN}
    assert MediaPolicyChanged() in events


def test_a_breakout_of_a_minute_or_less_has_no_warning() -> None:
    s = paired(group(), at=10.0, minutes=1)
    assert not any(isinstance(e, BreakoutWarned) for t in (10.0, 30.0, 69.9) for e in tick(s, t))
    tick(s, 70.0)
    assert s.breakout is None


def test_a_late_tick_returns_the_groups_without_a_warning() -> None:
    s = paired(group(), at=10.0, minutes=5)
    events = tick(s, 10.0 + 400)
    assert s.breakout is None and not any(isinstance(e, BreakoutWarned) for e in events)


def test_visitors_return_to_the_main_room_with_the_groups() -> None:
    s = paired(group())
    apply(s, COFAC, c.VisitGroup(0), 11.0)
    apply(s, FAC, c.EndBreakout(), 12.0)
    assert places(s)[COFAC] == MAIN and not s.participants[COFAC].listen_only


def test_on_hold_the_groups_go_on_and_their_clock_stops() -> None:
    s = paired(group(), at=10.0, minutes=5)  # ends at 310
    apply(s, COFAC, c.Disconnect(), 290.0)
    apply(s, FAC, c.Disconnect(), 295.0)
    assert s.on_hold
    assert tick(s, 320.0) == [] and s.breakout is not None  # past the end: the pairs carry on
    assert places(s)["ann"] == "group:0" and not s.breakout.warned
    connect(s, FAC, Role.FACILITATOR, now=330.0)  # 35 s of hold: the 15 s left resume now
    assert not s.on_hold and s.breakout is not None and s.breakout.ends_at == 310.0 + 35
    tick(s, 344.9)
    assert s.breakout is not None
    tick(s, 345.0)
    assert s.breakout is None


def test_a_member_who_drops_and_returns_within_the_grace_period_is_back_in_their_group() -> None:
    s = paired(group())
    apply(s, "ann", c.Disconnect(), 11.0)
    tick(s, 11.0 + s.grace_seconds - 1)
    connect(s, "ann", now=11.0 + s.grace_seconds - 0.5)
    assert places(s)["ann"] == "group:0" and s.participants["ann"].present


def test_a_member_whose_grace_runs_out_leaves_the_group_and_returns_to_the_main_room() -> None:
    s = paired(group())
    apply(s, "ann", c.Disconnect(), 11.0)
    tick(s, 11.0 + s.grace_seconds)
    assert s.participants["ann"].status is Status.LEFT and groups_of(s) == [["bob"], ["cat", "dan"]]
    connect(s, "ann", now=100.0)
    apply(s, FAC, c.Admit("ann"), 101.0)
    assert places(s)["ann"] == MAIN


@pytest.mark.parametrize(
    ("case", "command"),
    [("removed", c.Remove("ann")), ("sent to the lobby", c.SendToLobby("ann"))],
)
def test_a_member_taken_out_of_the_room_leaves_their_group(case: str, command: c.Command) -> None:
    s = paired(group())
    apply(s, FAC, command, 11.0)
    assert s.participants["ann"].place == MAIN and groups_of(s) == [["bob"], ["cat", "dan"]]


def test_a_visiting_facilitator_removed_or_dropped_for_good_is_not_left_in_a_group() -> None:
    s = paired(group())
    apply(s, COFAC, c.VisitGroup(0), 11.0)
    apply(s, FAC, c.Remove(COFAC), 12.0)
    assert s.participants[COFAC].place == MAIN and not s.participants[COFAC].listen_only


def test_the_end_of_the_session_ends_the_breakout() -> None:
    s = paired(group())
    apply(s, COFAC, c.VisitGroup(1, listen_only=False), 11.0)
    apply(s, FAC, c.End(), 12.0)
    assert s.breakout is None and all(p.place == MAIN for p in s.participants.values())


def test_a_pairs_phase_starts_its_breakout_and_the_next_phase_ends_it() -> None:
    s = group()
    apply(s, FAC, c.SetAgenda(PAIRS_AGENDA), 9.0)
    events = apply(s, FAC, c.NextPhase(seed=3), 10.0)
    assert s.phase.floor_mode is FloorMode.PAIRS and s.breakout is not None
    assert s.breakout.minutes == 5 and s.breakout.ends_at == 10.0 + 300
    assert [len(g) for g in groups_of(s)] == [3, 2]
    assert MediaPolicyChanged() in events
    apply(s, FAC, c.NextPhase(seed=3), 100.0)
    assert s.breakout is None and set(places(s).values()) == {MAIN}


def test_any_phase_change_ends_a_breakout_started_by_hand() -> None:
    s = paired(group())
    apply(s, FAC, c.SetPhase(2), 11.0)
    assert s.breakout is None and set(places(s).values()) == {MAIN}


def test_a_pairs_phase_is_entered_without_pairs_when_fewer_than_two_are_in_the_main_room() -> None:
    s = group(("ann",))
    apply(s, FAC, c.SetAgenda(PAIRS_AGENDA), 9.0)
    apply(s, FAC, c.SetPhase(1, seed=1), 10.0)
    assert s.phase_index == 1 and s.breakout is None


def test_an_agenda_edit_that_lands_on_a_pairs_phase_starts_nothing_by_itself() -> None:
    s = group()
    apply(s, FAC, c.SetAgenda(PAIRS_AGENDA), 9.0)
    apply(s, FAC, c.SetPhase(2), 10.0)
    apply(s, FAC, c.SetAgenda(PAIRS_AGENDA[:2]), 11.0)
    assert s.phase_index == 1 and s.breakout is None
    apply(s, FAC, c.StartBreakout(5), 12.0)  # the facilitator starts it when the group is ready
    assert s.breakout is not None


def test_a_floor_holder_sent_to_a_group_loses_the_floor_and_heads_the_queue() -> None:
    s = group()
    apply(s, "bob", c.RaiseHand(), 9.0)
    apply(s, FAC, c.GrantFloor("ann"), 9.5)
    paired(s)
    assert s.floor is None and s.queue == ["ann", "bob"]
    with pytest.raises(Conflict):
        apply(s, FAC, c.NextFloor(), 11.0)  # both are away: nobody in the main room waits
    apply(s, FAC, c.EndBreakout(), 12.0)
    apply(s, FAC, c.NextFloor(), 13.0)
    assert s.floor is not None and s.floor.holder == "ann"


def test_a_go_around_ends_when_everyone_in_it_goes_to_a_group() -> None:
    s = group(("ann", "bob", "cat", "dan"))
    apply(s, FAC, c.StartGoAround(), 9.0)
    apply(s, FAC, c.StartBreakout(5, size=2), 10.0)
    assert s.go_around is None and s.floor is None


def test_a_go_around_in_the_main_room_goes_on_with_those_there() -> None:
    s = paired(group())
    with pytest.raises(Conflict):
        apply(s, FAC, c.StartGoAround(("ann", "bob")), 11.0)
    apply(s, FAC, c.StartGoAround(), 11.0)  # by default: the members in the main room
    assert s.go_around is not None and s.go_around.order == ["eve"]
    apply(s, FAC, c.StopGoAround(), 12.0)
    apply(s, FAC, c.StartGoAround(("ann", "eve")), 13.0)  # a named order waits for those away
    assert s.go_around is not None and s.go_around.order == ["eve", "ann"]
    assert s.floor is not None and s.floor.holder == "eve"


def test_members_in_groups_cannot_raise_hands_or_nod_to_the_main_room() -> None:
    s = paired(group())
    apply(s, FAC, c.GrantFloor("eve"), 11.0)
    for command in (c.RaiseHand(), c.Nod()):
        with pytest.raises(Conflict):
            apply(s, "ann", command, 12.0)
    apply(s, "eve", c.ReleaseFloor(), 13.0)


def test_forced_mute_holds_in_a_group() -> None:
    s = paired(group())
    apply(s, COFAC, c.Mute("ann"), 11.0)
    assert not s.audible("ann") and s.audible("bob")
    with pytest.raises(Conflict):
        apply(s, "ann", c.SetMedia(audio=True, video=True), 12.0)


def test_a_member_in_a_group_who_was_admitted_later_by_someone_else_keeps_one_place() -> None:
    """Every admitted participant is in exactly one place, and every group place names a group."""
    s = paired(group())
    admit_member(s, "yan", now=11.0)
    apply(s, FAC, c.MoveToGroup("yan", 0), 12.0)
    assert s.breakout is not None
    for p in s.admitted():
        assert p.place == MAIN or p.place.startswith("side:") or int(p.place.split(":")[1]) < s.breakout.groups
