"""Speaking turns: hands, the floor, timed turns and go-arounds."""

from __future__ import annotations

import pytest

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import Conflict, Forbidden, Invalid, NotFound
from rooms.events import Audited, MediaPolicyChanged, StateChanged
from rooms.model import FLOOR_DROP_HOLD_SECONDS, FloorMode, Phase, Role, Session, Status
from tests.rooms.helpers import COFAC, FAC, connect, live_group, snapshot


def holder(s: Session) -> str | None:
    return None if s.floor is None else s.floor.holder


# Hands and the queue


def test_raise_hand_joins_the_queue_once() -> None:
    s = live_group()
    assert apply(s, "bob", c.RaiseHand(), 5.0) == [StateChanged()]
    apply(s, "ann", c.RaiseHand(), 6.0)
    version = s.version
    assert apply(s, "bob", c.RaiseHand(), 7.0) == []
    assert s.queue == ["bob", "ann"] and s.version == version


def test_lower_hand_leaves_the_queue() -> None:
    s = live_group()
    apply(s, "bob", c.RaiseHand(), 5.0)
    apply(s, "ann", c.RaiseHand(), 6.0)
    apply(s, "bob", c.LowerHand(), 7.0)
    assert s.queue == ["ann"]
    assert apply(s, "bob", c.LowerHand(), 8.0) == []


def test_waiting_member_cannot_raise_hand() -> None:
    s = live_group()
    connect(s, "dan", now=5.0)
    with pytest.raises(Forbidden):
        apply(s, "dan", c.RaiseHand(), 6.0)
    assert s.queue == []


def test_facilitators_do_not_raise_hands() -> None:
    s = live_group()
    with pytest.raises(Forbidden):
        apply(s, FAC, c.RaiseHand(), 5.0)


def test_floor_next_takes_head_of_queue() -> None:
    s = live_group()
    apply(s, "cat", c.RaiseHand(), 5.0)
    apply(s, "ann", c.RaiseHand(), 6.0)
    events = apply(s, FAC, c.NextFloor(), 7.0)
    assert holder(s) == "cat"
    assert s.queue == ["ann"]
    assert s.floor is not None and s.floor.since == 7.0 and s.floor.ends_at is None
    assert Audited("floor.grant", "cat") in events and MediaPolicyChanged() in events


def test_floor_next_with_an_empty_queue_conflicts() -> None:
    s = live_group()
    with pytest.raises(Conflict):
        apply(s, FAC, c.NextFloor(), 5.0)


def test_holder_cannot_raise_hand() -> None:
    s = live_group()
    apply(s, FAC, c.GrantFloor("ann"), 5.0)
    before = snapshot(s)
    with pytest.raises(Conflict):
        apply(s, "ann", c.RaiseHand(), 6.0)
    assert snapshot(s) == before


def test_holder_who_lowers_hand_keeps_floor() -> None:
    s = live_group()
    apply(s, "ann", c.RaiseHand(), 5.0)
    apply(s, FAC, c.NextFloor(), 6.0)
    apply(s, "ann", c.LowerHand(), 7.0)
    assert holder(s) == "ann"


# The floor


def test_grant_floor_takes_the_member_off_the_queue() -> None:
    s = live_group()
    apply(s, "ann", c.RaiseHand(), 5.0)
    apply(s, "bob", c.RaiseHand(), 5.0)
    apply(s, FAC, c.GrantFloor("bob"), 6.0)
    assert holder(s) == "bob" and s.queue == ["ann"]


def test_grant_floor_moves_it_from_the_current_holder() -> None:
    s = live_group()
    apply(s, FAC, c.GrantFloor("ann"), 5.0)
    apply(s, FAC, c.GrantFloor("bob"), 6.0)
    assert holder(s) == "bob"


def test_grant_floor_to_someone_not_in_the_room() -> None:
    s = live_group()
    connect(s, "dan", now=5.0)
    with pytest.raises(NotFound):
        apply(s, FAC, c.GrantFloor("zed"), 6.0)
    with pytest.raises(Conflict):
        apply(s, FAC, c.GrantFloor("dan"), 6.0)
    apply(s, FAC, c.Remove("cat"), 6.0)
    with pytest.raises(Conflict):
        apply(s, FAC, c.GrantFloor("cat"), 7.0)
    assert s.floor is None


def test_facilitator_may_take_the_floor() -> None:
    s = live_group(cofacilitator=True)
    apply(s, FAC, c.GrantFloor(FAC), 5.0)
    assert holder(s) == FAC
    apply(s, COFAC, c.GrantFloor(COFAC), 6.0)
    assert holder(s) == COFAC


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf"), 3601.0])
def test_turn_seconds_must_be_positive_and_finite(seconds: float) -> None:
    s = live_group()
    apply(s, "ann", c.RaiseHand(), 4.0)
    before = snapshot(s)
    with pytest.raises(Invalid):
        apply(s, FAC, c.GrantFloor("bob", turn_seconds=seconds), 5.0)
    with pytest.raises(Invalid):
        apply(s, FAC, c.NextFloor(turn_seconds=seconds), 5.0)
    with pytest.raises(Invalid):
        apply(s, FAC, c.StartGoAround(turn_seconds=seconds), 5.0)
    assert snapshot(s) == before


def test_timed_turn_expires_on_tick() -> None:
    s = live_group()
    apply(s, FAC, c.GrantFloor("ann", turn_seconds=120), 10.0)
    assert s.floor is not None and s.floor.ends_at == 130.0
    assert tick(s, 129.9) == []
    version = s.version
    events = tick(s, 130.0)
    assert s.floor is None
    assert StateChanged() in events and MediaPolicyChanged() in events
    assert s.version == version + 1


def test_untimed_turn_never_expires() -> None:
    s = live_group()
    apply(s, FAC, c.GrantFloor("ann"), 10.0)
    tick(s, 10_000.0)
    assert holder(s) == "ann"


def test_holder_releases_the_floor() -> None:
    s = live_group()
    apply(s, FAC, c.GrantFloor("ann"), 5.0)
    apply(s, "ann", c.ReleaseFloor(), 6.0)
    assert s.floor is None


def test_facilitator_releases_anyones_floor() -> None:
    s = live_group()
    apply(s, FAC, c.GrantFloor("ann"), 5.0)
    apply(s, FAC, c.ReleaseFloor(), 6.0)
    assert s.floor is None


def test_member_cannot_release_someone_elses_floor() -> None:
    s = live_group()
    apply(s, FAC, c.GrantFloor("ann"), 5.0)
    before = snapshot(s)
    with pytest.raises(Forbidden):
        apply(s, "bob", c.ReleaseFloor(), 6.0)
    assert snapshot(s) == before


def test_release_with_nobody_on_the_floor_conflicts() -> None:
    s = live_group()
    with pytest.raises(Conflict):
        apply(s, FAC, c.ReleaseFloor(), 5.0)


# Go-arounds


def test_go_around_in_join_order() -> None:
    s = live_group(members=("cat", "ann", "bob"), cofacilitator=True)
    events = apply(s, FAC, c.StartGoAround(), 10.0)
    assert s.go_around is not None
    assert s.go_around.order == ["cat", "ann", "bob"]  # members only, as they joined
    assert s.go_around.position == 0
    assert holder(s) == "cat"
    assert Audited("goaround.start") in events


def test_go_around_follows_a_given_order() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(order=("bob", FAC, "ann")), 10.0)
    assert s.go_around is not None and s.go_around.order == ["bob", FAC, "ann"]
    assert holder(s) == "bob"


@pytest.mark.parametrize(
    ("order", "error"),
    [(("ann", "ann"), Invalid), (("ann", "zed"), NotFound), (("ann", "dan"), Conflict), ((), Conflict)],
    ids=["twice", "unknown", "waiting", "empty"],
)
def test_go_around_refuses_a_bad_order(order: tuple[str, ...], error: type[Exception]) -> None:
    s = live_group()
    connect(s, "dan", now=5.0)
    before = snapshot(s)
    with pytest.raises(error):
        apply(s, FAC, c.StartGoAround(order=order), 10.0)
    assert snapshot(s) == before


def test_go_around_with_no_members_conflicts() -> None:
    s = live_group(members=())
    with pytest.raises(Conflict):
        apply(s, FAC, c.StartGoAround(), 5.0)


def test_only_one_go_around_at_a_time() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(), 5.0)
    with pytest.raises(Conflict):
        apply(s, FAC, c.StartGoAround(), 6.0)


def test_go_around_takes_the_speaker_off_the_queue() -> None:
    s = live_group()
    apply(s, "ann", c.RaiseHand(), 4.0)
    apply(s, "bob", c.RaiseHand(), 4.0)
    apply(s, FAC, c.StartGoAround(), 5.0)
    assert s.queue == ["bob"]
    apply(s, "ann", c.PassTurn(), 6.0)
    assert holder(s) == "bob" and s.queue == []


def test_pass_moves_to_next() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(), 5.0)
    apply(s, "ann", c.PassTurn(), 6.0)
    assert s.go_around is not None and s.go_around.position == 1
    assert holder(s) == "bob"
    assert s.floor is not None and s.floor.since == 6.0
    assert s.participants["ann"].passes == 1


def test_only_the_current_speaker_may_pass() -> None:
    s = live_group()
    with pytest.raises(Conflict):
        apply(s, "ann", c.PassTurn(), 4.0)  # no go-around
    apply(s, FAC, c.StartGoAround(), 5.0)
    before = snapshot(s)
    with pytest.raises(Conflict):
        apply(s, "bob", c.PassTurn(), 6.0)
    assert snapshot(s) == before


def test_releasing_a_go_around_turn_moves_to_next_without_counting_a_pass() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(), 5.0)
    apply(s, "ann", c.ReleaseFloor(), 6.0)
    assert holder(s) == "bob"
    assert s.participants["ann"].passes == 0
    apply(s, FAC, c.ReleaseFloor(), 7.0)  # the facilitator moves the go-around on
    assert holder(s) == "cat"


def test_go_around_turn_times_out_on_tick() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(turn_seconds=120), 10.0)
    assert s.go_around is not None and s.go_around.turn_ends_at == 130.0
    tick(s, 129.0)
    assert holder(s) == "ann"
    tick(s, 130.0)
    assert holder(s) == "bob"
    assert s.go_around.turn_ends_at == 250.0
    assert s.floor is not None and s.floor.ends_at == 250.0


def test_go_around_ends_after_last() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(), 5.0)
    for pid in ("ann", "bob"):
        apply(s, pid, c.PassTurn(), 6.0)
    apply(s, "cat", c.ReleaseFloor(), 7.0)
    assert s.go_around is None and s.floor is None


def test_floor_commands_wait_for_the_go_around() -> None:
    s = live_group()
    apply(s, "cat", c.RaiseHand(), 4.0)
    apply(s, FAC, c.StartGoAround(), 5.0)
    with pytest.raises(Conflict):
        apply(s, FAC, c.GrantFloor("cat"), 6.0)
    with pytest.raises(Conflict):
        apply(s, FAC, c.NextFloor(), 6.0)


def test_stop_go_around_frees_the_floor() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(), 5.0)
    events = apply(s, FAC, c.StopGoAround(), 6.0)
    assert s.go_around is None and s.floor is None
    assert Audited("goaround.stop") in events
    with pytest.raises(Conflict):
        apply(s, FAC, c.StopGoAround(), 7.0)


def test_go_around_skips_someone_who_leaves() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(), 5.0)
    apply(s, FAC, c.Remove("bob"), 6.0)  # not yet their turn
    assert s.go_around is not None and s.go_around.order == ["ann", "cat"]
    apply(s, FAC, c.Remove("ann"), 7.0)  # the current speaker
    assert holder(s) == "cat" and s.go_around.position == 0


def test_go_around_keeps_its_place_when_an_earlier_speaker_leaves() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(), 5.0)
    apply(s, "ann", c.PassTurn(), 6.0)
    apply(s, FAC, c.Remove("ann"), 7.0)
    assert s.go_around is not None and s.go_around.order == ["bob", "cat"]
    assert s.go_around.current == "bob" and holder(s) == "bob"


def test_go_around_ends_when_the_last_speaker_leaves() -> None:
    s = live_group(members=("ann",))
    apply(s, FAC, c.StartGoAround(), 5.0)
    apply(s, FAC, c.Remove("ann"), 6.0)
    assert s.go_around is None and s.floor is None


def test_go_around_leaves_out_those_still_waiting() -> None:
    s = live_group()
    connect(s, "dan", now=4.0)
    apply(s, FAC, c.StartGoAround(), 5.0)
    assert s.go_around is not None and "dan" not in s.go_around.order
    assert all(s.participants[p].role is Role.MEMBER for p in s.go_around.order)
    assert all(s.participants[p].status is Status.ADMITTED for p in s.go_around.order)


# A holder whose connection drops: the floor waits through a blip, then passes on.

HOLD = FLOOR_DROP_HOLD_SECONDS
STRICT = (Phase("practice", 20, FloorMode.STRICT),)


def dropped_holder(*, go_around: bool = False, queue: tuple[str, ...] = ("cat",)) -> Session:
    """ann holds the floor in a strict phase (given at 5), then drops at 10."""
    s = live_group(members=("ann", "bob", "cat"))
    apply(s, FAC, c.SetAgenda(STRICT), 2.0)
    for pid in queue:
        apply(s, pid, c.RaiseHand(), 3.0)
    if go_around:
        apply(s, FAC, c.StartGoAround(order=("ann", "bob", "cat")), 5.0)
    else:
        apply(s, FAC, c.GrantFloor("ann"), 5.0)
    apply(s, "ann", c.Disconnect(), 10.0)
    return s


@pytest.mark.parametrize(
    ("case", "go_around", "at", "want_holder", "want_queue", "want_order"),
    [
        ("a blip keeps the floor", False, 10.0 + HOLD - 0.1, "ann", ["cat"], None),
        ("after the hold the floor is free and ann heads the queue", False, 10.0 + HOLD, None, ["ann", "cat"], None),
        ("a blip keeps the go-around turn", True, 10.0 + HOLD - 0.1, "ann", ["cat"], ["ann", "bob", "cat"]),
        (
            "after the hold the go-around moves on; ann's turn comes last",
            True,
            10.0 + HOLD,
            "bob",
            ["cat"],
            ["bob", "cat", "ann"],
        ),
    ],
)
def test_a_dropped_holder_keeps_the_floor_through_a_blip_then_it_passes_on(
    case: str, go_around: bool, at: float, want_holder: str | None, want_queue: list[str], want_order: list[str] | None
) -> None:
    s = dropped_holder(go_around=go_around)
    tick(s, at)
    assert holder(s) == want_holder, case
    assert s.queue == want_queue, case
    assert (s.go_around.order if s.go_around else None) == want_order, case
    assert s.audible("ann") is (want_holder == "ann"), case  # strict: the room is not left silent


def test_a_dropped_holder_who_returns_in_time_keeps_the_turn() -> None:
    s = dropped_holder()
    connect(s, "ann", now=10.0 + HOLD - 1)
    assert tick(s, 10.0 + HOLD + 30) == []
    assert holder(s) == "ann"


def test_the_last_go_around_turn_of_a_dropped_member_ends_the_go_around() -> None:
    s = dropped_holder(go_around=True)
    tick(s, 10.0 + HOLD)  # ann to the end: bob's turn
    apply(s, "bob", c.PassTurn(), 21.0)
    apply(s, "cat", c.PassTurn(), 22.0)  # ann's turn again, still away
    assert holder(s) == "ann"
    events = tick(s, 22.0 + HOLD)
    assert events == [StateChanged(), MediaPolicyChanged()]
    assert s.go_around is None and s.floor is None


def test_the_hold_counts_from_the_grant_when_the_floor_goes_to_someone_already_away() -> None:
    s = dropped_holder()
    apply(s, FAC, c.GrantFloor("bob"), 12.0)
    apply(s, "bob", c.Disconnect(), 13.0)
    apply(s, FAC, c.GrantFloor("ann"), 30.0)  # ann dropped at 10, but the floor is hers only from 30
    tick(s, 30.0 + HOLD - 0.1)
    assert holder(s) == "ann"
    tick(s, 30.0 + HOLD)
    assert holder(s) is None and s.queue[0] == "ann"


def test_the_floor_does_not_pass_while_the_session_is_on_hold() -> None:
    s = dropped_holder()
    apply(s, FAC, c.Disconnect(), 11.0)
    assert s.on_hold
    assert tick(s, 11.0 + HOLD * 3) == []
    assert holder(s) == "ann"
