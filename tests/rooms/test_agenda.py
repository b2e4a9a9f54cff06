"""The agenda: default phases, replacing it, moving between phases, overtime."""

from __future__ import annotations

import pytest

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import Conflict, Invalid, NotFound
from rooms.events import Audited, MediaPolicyChanged, StateChanged
from rooms.model import FloorMode, Phase
from tests.rooms.helpers import FAC, live_group, new_session, snapshot


def test_default_agenda_has_five_phases_with_floor_modes() -> None:
    s = new_session()
    assert [(p.name, p.floor_mode) for p in s.agenda] == [
        ("check-in", FloorMode.OPEN),
        ("focused conversation", FloorMode.HANDS),
        ("skill-building", FloorMode.HANDS),
        ("reflection and peer feedback", FloorMode.HANDS),
        ("check-out", FloorMode.OPEN),
    ]
    assert s.phase_index == 0
    assert sum(p.minutes for p in s.agenda) == 90


def test_sessions_do_not_share_their_agenda() -> None:
    a, b = new_session(), new_session()
    a.agenda.pop()
    assert len(b.agenda) == 5


def test_phase_next_moves_on_and_restarts_the_clock() -> None:
    s = live_group()
    events = apply(s, FAC, c.NextPhase(), 600.0)
    assert s.phase_index == 1
    assert s.phase_started_at == 600.0
    assert StateChanged() in events and MediaPolicyChanged() in events
    assert Audited("phase", "1") in events


def test_phase_next_refuses_past_the_last_phase() -> None:
    s = live_group()
    for i in range(4):
        apply(s, FAC, c.NextPhase(), 10.0 * (i + 1))
    before = snapshot(s)
    with pytest.raises(Conflict):
        apply(s, FAC, c.NextPhase(), 100.0)
    assert snapshot(s) == before


def test_phase_set_jumps_anywhere_in_the_agenda() -> None:
    s = live_group()
    apply(s, FAC, c.SetPhase(3), 50.0)
    assert s.phase.name == "reflection and peer feedback"
    apply(s, FAC, c.SetPhase(0), 60.0)
    assert s.phase_index == 0 and s.phase_started_at == 60.0


@pytest.mark.parametrize("index", [-1, 5, 99])
def test_phase_set_refuses_a_phase_that_does_not_exist(index: int) -> None:
    s = live_group()
    before = snapshot(s)
    with pytest.raises(NotFound):
        apply(s, FAC, c.SetPhase(index), 5.0)
    assert snapshot(s) == before


def test_agenda_set_replaces_the_agenda_and_keeps_the_phase() -> None:
    s = live_group()
    apply(s, FAC, c.NextPhase(), 10.0)
    phases = (Phase("arrive", 5, FloorMode.OPEN), Phase("practice", 30, FloorMode.STRICT))
    events = apply(s, FAC, c.SetAgenda(phases), 20.0)
    assert s.agenda == list(phases)
    assert s.phase_index == 1 and s.phase_started_at == 10.0
    assert s.phase.floor_mode is FloorMode.STRICT
    assert MediaPolicyChanged() in events and Audited("agenda.set") in events


def test_agenda_set_shorter_than_the_current_phase_moves_to_its_last_phase() -> None:
    s = live_group()
    apply(s, FAC, c.SetPhase(4), 10.0)
    apply(s, FAC, c.SetAgenda((Phase("only", 60, FloorMode.HANDS),)), 20.0)
    assert s.phase_index == 0 and s.phase_started_at == 20.0


@pytest.mark.parametrize(
    "phases",
    [
        (),
        (Phase("", 10, FloorMode.OPEN),),
        (Phase("   ", 10, FloorMode.OPEN),),
        (Phase("zero", 0, FloorMode.OPEN),),
        (Phase("negative", -5, FloorMode.OPEN),),
        (Phase("too long", 241, FloorMode.OPEN),),
        (Phase("nan", float("nan"), FloorMode.OPEN),),
        tuple(Phase(f"p{i}", 1, FloorMode.OPEN) for i in range(21)),
    ],
    ids=["empty", "no-name", "blank-name", "zero", "negative", "too-long", "nan", "too-many"],
)
def test_agenda_set_refuses_a_bad_agenda(phases: tuple[Phase, ...]) -> None:
    s = live_group()
    before = snapshot(s)
    with pytest.raises(Invalid):
        apply(s, FAC, c.SetAgenda(phases), 5.0)
    assert snapshot(s) == before


def test_agenda_limits_are_inclusive() -> None:
    s = live_group()
    apply(s, FAC, c.SetAgenda(tuple(Phase(f"p{i}", 240, FloorMode.OPEN) for i in range(20))), 5.0)
    assert len(s.agenda) == 20


def test_phase_change_ends_the_go_around() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(), 5.0)
    assert s.floor is not None and s.floor.holder == "ann"
    apply(s, FAC, c.NextPhase(), 6.0)
    assert s.go_around is None and s.floor is None


def test_phase_change_keeps_an_ordinary_floor_and_the_queue() -> None:
    s = live_group()
    apply(s, "bob", c.RaiseHand(), 5.0)
    apply(s, FAC, c.GrantFloor("ann"), 6.0)
    apply(s, FAC, c.NextPhase(), 7.0)
    assert s.floor is not None and s.floor.holder == "ann"
    assert s.queue == ["bob"]


def test_phases_never_advance_by_themselves_but_are_marked_overtime() -> None:
    s = live_group()  # check-in, 15 minutes, started at 1 (the first admission)
    assert tick(s, 1 + 15 * 60 - 1) == []
    version = s.version
    assert tick(s, 1 + 15 * 60) == [StateChanged()]
    assert s.phase_overtime and s.phase_index == 0
    assert s.version == version + 1
    assert tick(s, 15 * 60 + 30) == []  # marked once
    apply(s, FAC, c.NextPhase(), 1000.0)
    assert not s.phase_overtime


def test_lengthening_the_current_phase_clears_overtime() -> None:
    s = live_group()  # started at 1 (the first admission)
    tick(s, 1 + 15 * 60)
    assert s.phase_overtime
    longer = (Phase("check-in", 30, FloorMode.OPEN), *s.agenda[1:])
    apply(s, FAC, c.SetAgenda(longer), 15 * 60 + 2)
    assert not s.phase_overtime
    assert tick(s, 29 * 60) == []
    tick(s, 1 + 30 * 60)
    assert s.phase_overtime


def test_cofacilitator_moves_phases() -> None:
    s = live_group(cofacilitator=True)
    apply(s, "cofac", c.NextPhase(), 5.0)
    assert s.phase_index == 1
