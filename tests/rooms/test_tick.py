"""Time: ``tick`` expires timers, and the hold freezes the floor while no facilitator is connected."""

from __future__ import annotations

import pytest

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import Conflict
from rooms.events import MediaPolicyChanged
from rooms.model import Admission, Role, SessionStatus, Status
from tests.rooms.helpers import COFAC, FAC, connect, live_group, new_session, snapshot


def test_tick_with_nothing_due_changes_nothing() -> None:
    s = live_group()
    apply(s, FAC, c.GrantFloor("ann", turn_seconds=60), 5.0)
    before = snapshot(s)
    assert tick(s, 30.0) == []
    assert snapshot(s) == before


def test_tick_after_the_end_does_nothing() -> None:
    s = live_group()
    apply(s, FAC, c.End(), 10.0)
    before = snapshot(s)
    assert tick(s, 100_000.0) == []
    assert snapshot(s) == before


def test_tick_does_nothing_before_the_session_is_live() -> None:
    s = new_session()
    assert tick(s, 10_000.0) == []
    assert s.status is SessionStatus.OPEN and not s.phase_overtime


def test_facilitator_drop_puts_session_on_hold_and_cofacilitator_carries_on() -> None:
    s = live_group(cofacilitator=True)
    apply(s, FAC, c.Disconnect(), 10.0)
    assert not s.on_hold  # the co-facilitator is still there
    apply(s, COFAC, c.NextPhase(), 11.0)
    apply(s, COFAC, c.Disconnect(), 12.0)
    assert s.on_hold and s.hold_since == 12.0
    events = connect(s, COFAC, Role.COFACILITATOR, now=20.0)
    assert not s.on_hold and s.hold_since is None
    assert MediaPolicyChanged() in events


def test_member_drop_never_holds_the_session() -> None:
    s = live_group()
    for pid in ("ann", "bob", "cat"):
        apply(s, pid, c.Disconnect(), 10.0)
    assert not s.on_hold


def test_hold_freezes_turn_timer() -> None:
    s = live_group()
    apply(s, FAC, c.GrantFloor("ann", turn_seconds=100), 0.0)
    apply(s, FAC, c.Disconnect(), 40.0)  # 60 s of ann's turn are left
    assert s.on_hold
    assert tick(s, 99.0) == []  # long past the turn, within the facilitator's grace
    assert s.floor is not None and s.floor.holder == "ann"
    connect(s, FAC, Role.FACILITATOR, now=50.0)  # back within the grace period
    assert s.floor.ends_at == 110.0
    tick(s, 109.0)
    assert s.floor is not None
    tick(s, 110.0)
    assert s.floor is None


def test_hold_freezes_the_go_around_timer() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(turn_seconds=100), 0.0)
    apply(s, FAC, c.Disconnect(), 40.0)
    tick(s, 59.0)
    connect(s, FAC, Role.FACILITATOR, now=59.0)
    assert s.go_around is not None
    assert s.go_around.turn_ends_at == 119.0
    assert s.floor is not None and s.floor.ends_at == 119.0
    tick(s, 119.0)
    assert s.floor is not None and s.floor.holder == "bob"


def test_a_turn_begun_during_the_hold_keeps_its_full_time() -> None:
    s = live_group(grace_seconds=30.0)
    apply(s, FAC, c.StartGoAround(turn_seconds=100), 0.0)
    apply(s, "ann", c.Disconnect(), 5.0)
    apply(s, FAC, c.Disconnect(), 10.0)  # hold from 10
    tick(s, 35.0)  # ann's grace ends during the hold: bob's turn begins at 35
    assert s.floor is not None and s.floor.holder == "bob"
    assert s.participants[FAC].status is Status.ADMITTED  # the facilitator's grace runs until 40
    connect(s, FAC, Role.FACILITATOR, now=38.0)
    assert s.floor.ends_at == 138.0  # 100 s from the resume, not 28 s more than that
    assert s.go_around is not None and s.go_around.turn_ends_at == 138.0


def test_hold_freezes_release_and_pass() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(), 0.0)
    apply(s, FAC, c.Disconnect(), 10.0)
    before = snapshot(s)
    for command in (c.PassTurn(), c.ReleaseFloor()):
        with pytest.raises(Conflict):
            apply(s, "ann", command, 11.0)
    assert snapshot(s) == before
    apply(s, "bob", c.RaiseHand(), 12.0)  # hands still go up
    assert s.queue == ["bob"]


def test_hold_lets_nobody_in_until_a_facilitator_returns() -> None:
    s = live_group(admission=Admission.OPEN)
    apply(s, FAC, c.Disconnect(), 10.0)
    connect(s, "dan", now=11.0)
    apply(s, "dan", c.Agree(), 12.0)
    assert s.participants["dan"].status is Status.WAITING
    connect(s, FAC, Role.FACILITATOR, now=20.0)
    assert s.participants["dan"].status is Status.ADMITTED


def test_hold_does_not_mark_overtime_until_it_lifts() -> None:
    s = live_group()
    apply(s, FAC, c.Disconnect(), 10.0)
    tick(s, 15 * 60 + 1)
    assert not s.phase_overtime
    connect(s, FAC, Role.FACILITATOR, now=15 * 60 + 2)
    tick(s, 15 * 60 + 3)
    assert s.phase_overtime


def test_members_grace_still_runs_during_the_hold() -> None:
    s = live_group()
    apply(s, FAC, c.Disconnect(), 10.0)
    apply(s, "ann", c.Disconnect(), 10.0)
    tick(s, 10.0 + s.grace_seconds)
    assert s.participants["ann"].status is Status.LEFT
    assert s.participants[FAC].status is Status.LEFT
    assert s.on_hold
    connect(s, FAC, Role.FACILITATOR, now=500.0)
    assert not s.on_hold


def test_session_with_no_facilitator_left_connected_is_on_hold_however_the_last_one_went() -> None:
    s = live_group(cofacilitator=True)
    apply(s, FAC, c.Disconnect(), 10.0)
    apply(s, FAC, c.Remove(COFAC), 10.5)  # a command still in flight from the dropped facilitator
    assert s.on_hold and s.hold_since == 10.5
