"""A private word: taking a member aside, ending it, and how it meets the rest of the session.

Every rule is driven through ``controller.apply`` and ``tick`` with explicit times; no event loop.
"""

from __future__ import annotations

import pytest

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import Conflict, Forbidden, Invalid, NotFound, RoomError
from rooms.events import Audited, MediaPolicyChanged, StateChanged
from rooms.model import MAIN, SIDE_ROOM_DROP_HOLD_SECONDS, Role, Session, SideRoom, Status
from tests.rooms.helpers import COFAC, FAC, Refusal, assert_refused, connect, live_group, snapshot

SIDE_ANN = "side:ann"


def group() -> Session:
    """Facilitator, co-facilitator, and four members in the main room; dan waiting in the lobby."""
    s = live_group(("ann", "bob", "cat", "eve"), cofacilitator=True)
    connect(s, "dan", now=5.0)
    return s


def places(s: Session) -> dict[str, str]:
    return {p.id: p.place for p in s.admitted()}


def test_a_cofacilitator_takes_a_member_aside() -> None:
    s = group()
    events = apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    assert places(s) == {FAC: MAIN, COFAC: SIDE_ANN, "ann": SIDE_ANN, "bob": MAIN, "cat": MAIN, "eve": MAIN}
    assert s.side_rooms == {"ann": SideRoom(member="ann", lead=COFAC, since=10.0, back_to=MAIN)}
    assert StateChanged() in events and MediaPolicyChanged() in events
    assert Audited("side.start", "ann") in events


def test_the_facilitator_sends_the_cofacilitator_aside_and_carries_on() -> None:
    s = group()
    apply(s, FAC, c.StartSideRoom("ann", with_id=COFAC), 10.0)
    assert places(s)[FAC] == MAIN and places(s)[COFAC] == SIDE_ANN == places(s)["ann"]


def test_naming_oneself_in_with_is_taking_aside_oneself() -> None:
    s = group()
    apply(s, COFAC, c.StartSideRoom("ann", with_id=COFAC), 10.0)
    assert s.side_rooms["ann"].lead == COFAC


# (actor, setup, command, error): each refusal leaves the session exactly as it was.
REFUSALS: list[Refusal] = [
    ("a member cannot take anyone aside", "bob", [], c.StartSideRoom("ann"), Forbidden),
    ("a facilitator is never taken aside", COFAC, [], c.StartSideRoom(FAC), Forbidden),
    ("a cofacilitator sends no one else aside", COFAC, [], c.StartSideRoom("ann", with_id=FAC), Forbidden),
    ("with names a facilitator, not a member", FAC, [], c.StartSideRoom("ann", with_id="bob"), Invalid),
    ("nobody of that id", FAC, [], c.StartSideRoom("zed"), NotFound),
    ("a waiting member is not in the room", FAC, [], c.StartSideRoom("dan"), Conflict),
    ("with names someone unknown", FAC, [], c.StartSideRoom("ann", with_id="zed"), NotFound),
    (
        "the member is already aside",
        FAC,
        [(COFAC, c.StartSideRoom("ann"))],
        c.StartSideRoom("ann"),
        Conflict,
    ),
    (
        "the facilitator is already in a side room",
        COFAC,
        [(COFAC, c.StartSideRoom("ann"))],
        c.StartSideRoom("bob"),
        Conflict,
    ),
    (
        "the facilitator sent aside is not connected",
        FAC,
        [(COFAC, c.Disconnect())],
        c.StartSideRoom("ann", with_id=COFAC),
        Conflict,
    ),
    ("no side room for that member", FAC, [], c.EndSideRoom("ann"), NotFound),
    ("ending one's own side room when in none", COFAC, [], c.EndSideRoom(), Conflict),
    (
        "a cofacilitator never ends the facilitator's side room",
        COFAC,
        [(FAC, c.StartSideRoom("ann"))],
        c.EndSideRoom("ann"),
        Forbidden,
    ),
    ("a member cannot end a side room", "ann", [(COFAC, c.StartSideRoom("ann"))], c.EndSideRoom("ann"), Forbidden),
]


@pytest.mark.parametrize(("case", "actor", "setup", "command", "error"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_change_nothing(
    case: str, actor: str, setup: list[tuple[str, c.Command]], command: c.Command, error: type[RoomError]
) -> None:
    assert_refused(group(), actor, setup, command, error, 10.0)


# (who started it, who ends it, the command): the one in it, or the facilitator, ends it.
ENDINGS = [
    (COFAC, COFAC, c.EndSideRoom()),
    (COFAC, COFAC, c.EndSideRoom("ann")),
    (COFAC, FAC, c.EndSideRoom("ann")),
    (FAC, FAC, c.EndSideRoom()),
]


@pytest.mark.parametrize(("started_by", "ended_by", "command"), ENDINGS)
def test_ending_a_side_room_brings_both_back(started_by: str, ended_by: str, command: c.Command) -> None:
    s = group()
    apply(s, started_by, c.StartSideRoom("ann"), 10.0)
    events = apply(s, ended_by, command, 20.0)
    assert set(places(s).values()) == {MAIN} and s.side_rooms == {}
    assert MediaPolicyChanged() in events and Audited("side.end", "ann") in events


def test_a_member_taken_aside_from_a_group_returns_to_the_group() -> None:
    s = group()
    apply(s, FAC, c.StartBreakout(10, groups=(("ann", "bob"), ("cat", "eve"))), 10.0)
    apply(s, COFAC, c.StartSideRoom("ann"), 11.0)
    assert s.side_rooms["ann"].back_to == "group:0"
    apply(s, COFAC, c.EndSideRoom(), 12.0)
    assert places(s)["ann"] == "group:0" and places(s)[COFAC] == MAIN


def test_a_member_aside_when_the_breakout_ends_returns_to_the_main_room() -> None:
    s = group()
    apply(s, FAC, c.StartBreakout(10, groups=(("ann", "bob"), ("cat", "eve"))), 10.0)
    apply(s, COFAC, c.StartSideRoom("ann"), 11.0)
    apply(s, FAC, c.EndBreakout(), 12.0)
    assert places(s)["ann"] == SIDE_ANN and s.side_rooms["ann"].back_to == MAIN  # the private word goes on
    apply(s, COFAC, c.EndSideRoom(), 13.0)
    assert places(s)["ann"] == MAIN


def test_a_facilitator_visiting_a_group_may_take_a_member_of_it_aside() -> None:
    s = group()
    apply(s, FAC, c.StartBreakout(10, groups=(("ann", "bob"),)), 10.0)
    apply(s, COFAC, c.VisitGroup(0, listen_only=True), 11.0)
    apply(s, COFAC, c.StartSideRoom("ann"), 12.0)
    cofac = s.participants[COFAC]
    assert cofac.place == SIDE_ANN and not cofac.listen_only
    apply(s, COFAC, c.EndSideRoom(), 13.0)
    assert cofac.place == MAIN and places(s)["ann"] == "group:0"


def test_a_drop_and_return_within_the_grace_period_keeps_the_member_aside() -> None:
    s = group()
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    apply(s, "ann", c.Disconnect(), 11.0)
    tick(s, 11.0 + s.grace_seconds - 1)
    connect(s, "ann", now=11.0 + s.grace_seconds - 0.5)
    assert places(s)["ann"] == SIDE_ANN and "ann" in s.side_rooms


def test_the_members_grace_running_out_ends_the_side_room() -> None:
    s = group()
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    apply(s, "ann", c.Disconnect(), 11.0)
    events = tick(s, 11.0 + s.grace_seconds)
    assert s.participants["ann"].status is Status.LEFT and s.participants["ann"].place == MAIN
    assert s.side_rooms == {} and places(s)[COFAC] == MAIN
    assert MediaPolicyChanged() in events
    connect(s, "ann", now=200.0)  # back after the grace period: waits, then starts in the main room
    assert s.participants["ann"].place == MAIN


@pytest.mark.parametrize("hold", [False, True])
def test_a_side_room_whose_facilitator_dropped_ends_after_a_few_seconds(hold: bool) -> None:
    """Even on hold (no facilitator connected at all): a member is never left alone in a silent room."""
    s = group()
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    if hold:
        apply(s, FAC, c.Disconnect(), 10.5)
    apply(s, COFAC, c.Disconnect(), 11.0)
    assert s.on_hold is hold
    tick(s, 11.0 + SIDE_ROOM_DROP_HOLD_SECONDS - 0.1)
    assert "ann" in s.side_rooms
    events = tick(s, 11.0 + SIDE_ROOM_DROP_HOLD_SECONDS)
    assert s.side_rooms == {} and places(s)["ann"] == MAIN and places(s)[COFAC] == MAIN
    assert MediaPolicyChanged() in events


def test_a_facilitator_back_within_seconds_keeps_the_side_room() -> None:
    s = group()
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    apply(s, COFAC, c.Disconnect(), 11.0)
    connect(s, COFAC, Role.COFACILITATOR, now=15.0)
    tick(s, 11.0 + SIDE_ROOM_DROP_HOLD_SECONDS + 5)
    assert places(s)[COFAC] == SIDE_ANN == places(s)["ann"]


EXITS: list[tuple[str, str, c.Command]] = [
    ("the member is removed", FAC, c.Remove("ann")),
    ("the member is sent to the lobby", FAC, c.SendToLobby("ann")),
    ("the facilitator in it is removed", FAC, c.Remove(COFAC)),
]


@pytest.mark.parametrize(("case", "actor", "command"), EXITS, ids=[e[0] for e in EXITS])
def test_a_side_room_ends_when_either_of_its_two_leaves(case: str, actor: str, command: c.Command) -> None:
    s = group()
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    apply(s, actor, command, 11.0)
    assert s.side_rooms == {}
    assert all(p.place == MAIN for p in s.participants.values())


def test_a_floor_holder_taken_aside_loses_the_floor_and_heads_the_queue() -> None:
    s = group()
    apply(s, "bob", c.RaiseHand(), 9.0)
    apply(s, FAC, c.GrantFloor("ann"), 10.0)
    apply(s, COFAC, c.StartSideRoom("ann"), 11.0)
    assert s.floor is None and s.queue == ["ann", "bob"]
    apply(s, FAC, c.NextFloor(), 12.0)  # the main room goes on: the head of the queue here is bob
    assert s.floor is not None and s.floor.holder == "bob" and s.queue == ["ann"]
    apply(s, COFAC, c.EndSideRoom(), 13.0)
    apply(s, FAC, c.NextFloor(), 14.0)  # back: one click gives ann the floor
    assert s.floor is not None and s.floor.holder == "ann" and s.queue == []


def test_a_go_around_turn_waits_for_a_member_aside() -> None:
    s = group()
    apply(s, FAC, c.StartGoAround(("ann", "bob", "cat")), 10.0)
    apply(s, COFAC, c.StartSideRoom("ann"), 11.0)
    assert s.go_around is not None and s.go_around.order == ["bob", "cat", "ann"]
    assert s.floor is not None and s.floor.holder == "bob"
    apply(s, COFAC, c.EndSideRoom(), 12.0)
    apply(s, "bob", c.PassTurn(), 13.0)
    apply(s, "cat", c.PassTurn(), 14.0)
    assert s.floor is not None and s.floor.holder == "ann"  # back in time for the turn kept for her


def test_a_go_around_skips_a_member_still_aside_when_their_turn_comes() -> None:
    s = group()
    apply(s, FAC, c.StartGoAround(("bob", "ann", "cat")), 10.0)
    apply(s, COFAC, c.StartSideRoom("ann"), 11.0)
    apply(s, "bob", c.PassTurn(), 12.0)
    assert s.floor is not None and s.floor.holder == "cat"
    apply(s, "cat", c.PassTurn(), 13.0)
    assert s.go_around is None and s.floor is None  # only the absent were left: the go-around is over


# Acts of the main room that someone away cannot do (lowering a hand stays possible).
AWAY_REFUSALS: list[tuple[str, str, c.Command]] = [
    ("raise a hand", "ann", c.RaiseHand()),
    ("nod to the speaker", "ann", c.Nod()),
    ("be given the floor", FAC, c.GrantFloor("ann")),
    ("be given the floor as a facilitator", FAC, c.GrantFloor(COFAC)),
]


@pytest.mark.parametrize(("case", "actor", "command"), AWAY_REFUSALS, ids=[a[0] for a in AWAY_REFUSALS])
def test_someone_aside_cannot(case: str, actor: str, command: c.Command) -> None:
    s = group()
    apply(s, FAC, c.GrantFloor("bob"), 9.0)
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    before = snapshot(s)
    with pytest.raises(Conflict):
        apply(s, actor, command, 11.0)
    assert snapshot(s) == before


def test_a_member_aside_keeps_and_may_lower_a_raised_hand() -> None:
    s = group()
    apply(s, "ann", c.RaiseHand(), 9.0)
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    assert s.queue == ["ann"]
    with pytest.raises(Conflict):
        apply(s, FAC, c.NextFloor(), 11.0)  # nobody in the main room is waiting
    apply(s, "ann", c.LowerHand(), 12.0)
    assert s.queue == []


def test_forced_mute_holds_aside_and_only_a_facilitator_lifts_it() -> None:
    s = group()
    apply(s, FAC, c.Mute("ann"), 9.0)
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    assert not s.audible("ann")
    with pytest.raises(Conflict):
        apply(s, "ann", c.SetMedia(audio=True, video=True), 11.0)
    apply(s, COFAC, c.AllowUnmute("ann"), 12.0)
    apply(s, "ann", c.SetMedia(audio=True, video=True), 13.0)
    assert s.audible("ann")


def test_notes_and_help_still_work_aside() -> None:
    s = group()
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    assert apply(s, "ann", c.Note(FAC, "I am all right"), 11.0)
    assert apply(s, "ann", c.Help(), 12.0)


def test_the_end_of_the_session_ends_every_side_room() -> None:
    s = group()
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    apply(s, FAC, c.End(), 11.0)
    assert s.side_rooms == {} and all(p.place == MAIN for p in s.participants.values())
