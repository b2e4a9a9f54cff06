"""The waiting room: arrival, agreement, admission, lock, deny, remove, reconnect and end."""

from __future__ import annotations

import pytest

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import Conflict, Forbidden, NotFound
from rooms.events import Audited, LobbyChanged, ParticipantLeft, ParticipantRemoved, SessionEnded
from rooms.model import Admission, Role, SessionStatus, Status
from tests.rooms.helpers import COFAC, FAC, admit_member, connect, live_group, new_session, snapshot


def test_session_is_open_until_a_facilitator_connects() -> None:
    s = new_session()
    connect(s, "ann", now=1.0)
    assert s.status is SessionStatus.OPEN
    events = connect(s, FAC, Role.FACILITATOR, now=5.0)
    assert s.status is SessionStatus.LIVE
    assert Audited("session.live") in events


def test_the_phase_clock_starts_with_the_first_member_let_in_not_the_console_opening() -> None:
    s = new_session()
    connect(s, FAC, Role.FACILITATOR, now=5.0)
    connect(s, "ann", now=100.0)
    apply(s, "ann", c.Agree(), 100.0)
    assert s.phase_started_at is None  # check-in has not begun while the facilitator waits alone
    apply(s, FAC, c.Admit("ann"), 300.0)
    assert s.phase_started_at == 300.0
    admit_member(s, "bob", now=400.0)
    assert s.phase_started_at == 300.0  # later arrivals join the running phase


def test_the_phase_clock_starts_under_open_admission_when_the_first_member_walks_in() -> None:
    s = new_session(admission=Admission.OPEN, requires_agreement=False)
    connect(s, "ann", now=1.0)  # early: waits for the facilitator
    connect(s, FAC, Role.FACILITATOR, now=60.0)
    assert s.participants["ann"].status is Status.ADMITTED and s.phase_started_at == 60.0


def test_cofacilitator_also_makes_the_session_live() -> None:
    s = new_session()
    connect(s, COFAC, Role.COFACILITATOR, now=2.0)
    assert s.status is SessionStatus.LIVE


def test_facilitators_never_wait() -> None:
    s = new_session()
    connect(s, FAC, Role.FACILITATOR, now=0.0)
    fac = s.participants[FAC]
    assert fac.status is Status.ADMITTED and fac.agreed and fac.joined_at == 0.0


def test_member_waits_until_admitted() -> None:
    s = live_group(members=())
    connect(s, "ann", now=3.0)
    ann = s.participants["ann"]
    assert ann.status is Status.WAITING
    assert ann.waiting_since == 3.0
    assert ann.joined_at is None
    apply(s, "ann", c.Agree(), 4.0)
    assert ann.status is Status.WAITING  # agreement alone does not let anyone in with a lobby
    events = apply(s, FAC, c.Admit("ann"), 10.0)
    assert ann.status is Status.ADMITTED
    assert ann.joined_at == 10.0
    assert Audited("admit", "ann") in events and LobbyChanged() in events


def test_admission_requires_the_agreement() -> None:
    s = live_group(members=())
    connect(s, "ann", now=3.0)
    before = snapshot(s)
    with pytest.raises(Conflict):
        apply(s, FAC, c.Admit("ann"), 4.0)
    assert snapshot(s) == before


def test_session_without_agreement_admits_directly() -> None:
    s = live_group(members=(), requires_agreement=False)
    connect(s, "ann", now=3.0)
    apply(s, FAC, c.Admit("ann"), 4.0)
    assert s.participants["ann"].status is Status.ADMITTED


def test_agreeing_twice_changes_nothing() -> None:
    s = live_group(members=())
    connect(s, "ann", now=3.0)
    apply(s, "ann", c.Agree(), 4.0)
    version = s.version
    assert apply(s, "ann", c.Agree(), 5.0) == []
    assert s.version == version


def test_open_admission_admits_after_agreement() -> None:
    s = live_group(members=(), admission=Admission.OPEN)
    connect(s, "ann", now=3.0)
    assert s.participants["ann"].status is Status.WAITING
    apply(s, "ann", c.Agree(), 4.0)
    assert s.participants["ann"].status is Status.ADMITTED
    assert s.participants["ann"].joined_at == 4.0


def test_open_admission_without_agreement_admits_on_arrival() -> None:
    s = live_group(members=(), admission=Admission.OPEN, requires_agreement=False)
    connect(s, "ann", now=3.0)
    assert s.participants["ann"].status is Status.ADMITTED


def test_early_arrival_waits_for_the_facilitator_even_with_open_admission() -> None:
    s = new_session(admission=Admission.OPEN)
    connect(s, "ann", now=1.0)
    apply(s, "ann", c.Agree(), 2.0)
    assert s.participants["ann"].status is Status.WAITING
    connect(s, "bob", now=3.0)  # has not agreed yet
    connect(s, FAC, Role.FACILITATOR, now=10.0)
    assert s.participants["ann"].status is Status.ADMITTED
    assert s.participants["ann"].joined_at == 10.0
    assert s.participants["bob"].status is Status.WAITING


def test_locked_session_refuses_admission() -> None:
    s = live_group(members=())
    apply(s, FAC, c.Lock(), 2.0)
    connect(s, "ann", now=3.0)  # may still arrive and wait
    apply(s, "ann", c.Agree(), 3.0)
    before = snapshot(s)
    with pytest.raises(Conflict):
        apply(s, FAC, c.Admit("ann"), 4.0)
    with pytest.raises(Conflict):
        apply(s, FAC, c.AdmitAll(), 4.0)
    assert snapshot(s) == before
    apply(s, FAC, c.Unlock(), 5.0)
    apply(s, FAC, c.Admit("ann"), 6.0)
    assert s.participants["ann"].status is Status.ADMITTED


def test_locked_session_stops_open_admission() -> None:
    s = live_group(members=(), admission=Admission.OPEN)
    apply(s, FAC, c.Lock(), 2.0)
    connect(s, "ann", now=3.0)
    apply(s, "ann", c.Agree(), 3.0)
    assert s.participants["ann"].status is Status.WAITING


def test_lock_and_unlock_are_idempotent() -> None:
    s = live_group()
    assert Audited("lock") in apply(s, FAC, c.Lock(), 2.0)
    version = s.version
    assert apply(s, FAC, c.Lock(), 3.0) == []
    assert s.version == version and s.locked
    apply(s, FAC, c.Unlock(), 4.0)
    assert apply(s, FAC, c.Unlock(), 5.0) == []
    assert not s.locked


def test_admit_all_lets_in_only_those_who_agreed() -> None:
    s = live_group(members=())
    for i, pid in enumerate(("ann", "bob", "cat")):
        connect(s, pid, now=2.0 + i)
    apply(s, "ann", c.Agree(), 6.0)
    apply(s, "cat", c.Agree(), 6.0)
    events = apply(s, FAC, c.AdmitAll(), 7.0)
    assert [p.id for p in s.admitted() if p.role is Role.MEMBER] == ["ann", "cat"]
    assert s.participants["bob"].status is Status.WAITING
    assert Audited("admit", "ann") in events and Audited("admit", "cat") in events


def test_admit_all_fills_free_seats_in_arrival_order_and_leaves_the_rest_waiting() -> None:
    s = live_group(members=("ann",), max_participants=4)
    connect(s, "bob", now=5.0)
    connect(s, "cat", now=6.0)
    for pid in ("bob", "cat"):
        apply(s, pid, c.Agree(), 7.0)
    connect(s, COFAC, Role.COFACILITATOR, now=7.5)  # takes a seat: three of four are now in
    apply(s, FAC, c.AdmitAll(), 8.0)
    assert s.participants["bob"].status is Status.ADMITTED
    assert s.participants["cat"].status is Status.WAITING


def test_full_session_refuses_new_arrivals_but_not_a_facilitator() -> None:
    s = new_session(max_participants=2)
    connect(s, "ann", now=1.0)
    connect(s, "bob", now=2.0)
    with pytest.raises(Conflict):
        connect(s, "cat", now=3.0)
    assert "cat" not in s.participants
    connect(s, FAC, Role.FACILITATOR, now=4.0)
    assert s.participants[FAC].status is Status.ADMITTED


def test_full_room_refuses_admission() -> None:
    s = live_group(members=("ann",), max_participants=3)
    connect(s, "bob", now=5.0)
    with pytest.raises(Conflict):
        connect(s, "cat", now=5.0)  # facilitator, ann and bob (waiting) fill the three seats
    connect(s, COFAC, Role.COFACILITATOR, now=6.0)
    apply(s, "bob", c.Agree(), 6.0)
    before = snapshot(s)
    with pytest.raises(Conflict):
        apply(s, FAC, c.Admit("bob"), 7.0)
    assert snapshot(s) == before


def test_admit_unknown_is_not_found_and_admit_twice_conflicts() -> None:
    s = live_group()
    with pytest.raises(NotFound):
        apply(s, FAC, c.Admit("zed"), 5.0)
    with pytest.raises(Conflict):
        apply(s, FAC, c.Admit("ann"), 5.0)


def test_deny_ends_attendance() -> None:
    s = live_group(members=())
    connect(s, "ann", now=3.0)
    events = apply(s, FAC, c.Deny("ann"), 4.0)
    ann = s.participants["ann"]
    assert ann.status is Status.REMOVED and not ann.connected
    assert ParticipantRemoved("ann", "denied") in events
    assert ParticipantLeft("ann") in events
    assert Audited("deny", "ann") in events
    assert LobbyChanged() in events
    assert ann.left_at is None  # never joined, so nothing to close in attendance


def test_deny_refuses_someone_not_waiting() -> None:
    s = live_group()
    with pytest.raises(Conflict):
        apply(s, FAC, c.Deny("ann"), 5.0)
    with pytest.raises(NotFound):
        apply(s, FAC, c.Deny("zed"), 5.0)


def test_remove_ends_attendance_and_clears_turns() -> None:
    s = live_group()
    apply(s, "bob", c.RaiseHand(), 5.0)
    apply(s, FAC, c.GrantFloor("ann"), 6.0)
    events = apply(s, FAC, c.Remove("ann", "disruptive"), 7.0)
    assert ParticipantRemoved("ann", "disruptive") in events
    ann = s.participants["ann"]
    assert ann.status is Status.REMOVED and ann.left_at == 7.0
    assert s.floor is None
    apply(s, FAC, c.Remove("bob"), 8.0)
    assert s.queue == []


def test_remove_default_reason() -> None:
    s = live_group()
    assert ParticipantRemoved("ann", "removed") in apply(s, FAC, c.Remove("ann"), 5.0)


def test_removed_participant_cannot_reconnect() -> None:
    s = live_group()
    apply(s, FAC, c.Remove("ann"), 5.0)
    before = snapshot(s)
    with pytest.raises(Forbidden):
        connect(s, "ann", now=6.0)
    assert snapshot(s) == before


def test_denied_participant_cannot_reconnect() -> None:
    s = live_group(members=())
    connect(s, "ann", now=3.0)
    apply(s, FAC, c.Deny("ann"), 4.0)
    with pytest.raises(Forbidden):
        connect(s, "ann", now=6.0)


def test_removed_participant_can_do_nothing() -> None:
    s = live_group()
    apply(s, FAC, c.Remove("ann"), 5.0)
    for command in (c.SetMedia(audio=True, video=False), c.RaiseHand(), c.Help(), c.Nod()):
        with pytest.raises(Forbidden):
            apply(s, "ann", command, 6.0)


def test_remove_refuses_self_twice_and_unknown() -> None:
    s = live_group()
    with pytest.raises(Conflict):
        apply(s, FAC, c.Remove(FAC), 5.0)
    apply(s, FAC, c.Remove("ann"), 5.0)
    with pytest.raises(Conflict):
        apply(s, FAC, c.Remove("ann"), 6.0)
    with pytest.raises(NotFound):
        apply(s, FAC, c.Remove("zed"), 6.0)


def test_only_the_facilitator_removes_a_cofacilitator() -> None:
    s = live_group(cofacilitator=True)
    with pytest.raises(Forbidden):
        apply(s, COFAC, c.Remove(FAC), 5.0)
    apply(s, FAC, c.Remove(COFAC), 6.0)
    assert s.participants[COFAC].status is Status.REMOVED


def test_cofacilitator_may_remove_a_member() -> None:
    s = live_group(cofacilitator=True)
    apply(s, COFAC, c.Remove("ann"), 5.0)
    assert s.participants["ann"].status is Status.REMOVED


def test_remove_after_leaving_keeps_them_out() -> None:
    s = live_group()
    apply(s, "ann", c.Disconnect(), 5.0)
    tick(s, 5.0 + s.grace_seconds)
    assert s.participants["ann"].status is Status.LEFT
    apply(s, FAC, c.Remove("ann"), 100.0)
    with pytest.raises(Forbidden):
        connect(s, "ann", now=101.0)


def test_reconnect_within_grace_keeps_the_seat() -> None:
    s = live_group()
    apply(s, "ann", c.Disconnect(), 5.0)
    connect(s, "ann", now=30.0)
    ann = s.participants["ann"]
    assert ann.status is Status.ADMITTED and ann.connected and ann.disconnected_at is None


def test_waiting_member_who_disconnects_tells_the_lobby() -> None:
    s = live_group(members=())
    connect(s, "ann", now=3.0)
    assert LobbyChanged() in apply(s, "ann", c.Disconnect(), 4.0)
    assert apply(s, "ann", c.Disconnect(), 5.0) == []


def test_end_closes_attendance_for_everyone_at_once() -> None:
    s = live_group()
    connect(s, "dan", now=10.0)  # still waiting
    apply(s, "bob", c.RaiseHand(), 11.0)
    apply(s, FAC, c.StartGoAround(), 12.0)
    events = apply(s, FAC, c.End(), 100.0)
    assert s.status is SessionStatus.ENDED and s.ended_at == 100.0
    assert SessionEnded(100.0) in events and Audited("end") in events
    assert s.floor is None and s.go_around is None and s.queue == []
    for p in s.participants.values():
        assert p.status is Status.LEFT and not p.connected
    assert {p.id: p.left_at for p in s.participants.values()} == {
        FAC: 100.0,
        "ann": 100.0,
        "bob": 100.0,
        "cat": 100.0,
        "dan": None,
    }


def test_ended_session_refuses_everything() -> None:
    s = live_group()
    apply(s, FAC, c.End(), 100.0)
    before = snapshot(s)
    attempts: list[tuple[str, c.Command]] = [
        (FAC, c.Connect("Fac", Role.FACILITATOR)),
        ("ann", c.Connect("Ann", Role.MEMBER)),
        ("new", c.Connect("New", Role.MEMBER)),
        (FAC, c.NextPhase()),
        (FAC, c.End()),
        (FAC, c.Admit("ann")),
        ("ann", c.Help()),
        ("ann", c.Disconnect()),
        ("ann", c.SetPublishing(True)),
        (FAC, c.RecordSpeaking((("ann", 3.0),))),
    ]
    for actor, command in attempts:
        with pytest.raises(Conflict):
            apply(s, actor, command, 101.0)
    assert snapshot(s) == before


def test_cofacilitator_may_end_the_session() -> None:
    s = live_group(cofacilitator=True)
    apply(s, COFAC, c.End(), 50.0)
    assert s.ended


def test_admit_member_helper_matches_admission_modes() -> None:
    s = live_group(members=(), admission=Admission.OPEN)
    admit_member(s, "ann", now=2.0)
    assert s.participants["ann"].status is Status.ADMITTED


def test_unlock_lets_in_those_waiting_under_open_admission() -> None:
    s = live_group(members=(), admission=Admission.OPEN)
    apply(s, FAC, c.Lock(), 2.0)
    connect(s, "ann", now=3.0)
    apply(s, "ann", c.Agree(), 3.0)
    connect(s, "bob", now=3.0)
    apply(s, FAC, c.Unlock(), 4.0)
    assert s.participants["ann"].status is Status.ADMITTED
    assert s.participants["bob"].status is Status.WAITING  # has not agreed


def test_lock_does_not_keep_out_a_member_who_dropped() -> None:
    s = live_group()
    apply(s, FAC, c.Lock(), 2.0)
    apply(s, "ann", c.Disconnect(), 10.0)
    tick(s, 10.0 + s.grace_seconds)
    connect(s, "ann", now=200.0)
    connect(s, "dan", now=200.0)
    apply(s, "dan", c.Agree(), 201.0)
    assert s.participants["ann"].status is Status.WAITING
    apply(s, FAC, c.Admit("ann"), 202.0)
    assert s.participants["ann"].status is Status.ADMITTED
    with pytest.raises(Conflict):
        apply(s, FAC, c.Admit("dan"), 203.0)


def test_admit_all_while_locked_lets_back_only_those_who_were_in() -> None:
    s = live_group()
    apply(s, FAC, c.Lock(), 2.0)
    apply(s, "ann", c.Disconnect(), 10.0)
    tick(s, 10.0 + s.grace_seconds)
    connect(s, "dan", now=199.0)
    apply(s, "dan", c.Agree(), 199.0)
    connect(s, "ann", now=200.0)
    apply(s, FAC, c.AdmitAll(), 201.0)
    assert s.participants["ann"].status is Status.ADMITTED
    assert s.participants["dan"].status is Status.WAITING
    with pytest.raises(Conflict):
        apply(s, FAC, c.AdmitAll(), 202.0)


def test_member_who_dropped_walks_back_into_a_locked_open_session() -> None:
    s = live_group(admission=Admission.OPEN)
    apply(s, FAC, c.Lock(), 2.0)
    apply(s, "ann", c.Disconnect(), 10.0)
    tick(s, 10.0 + s.grace_seconds)
    connect(s, "ann", now=200.0)
    assert s.participants["ann"].status is Status.ADMITTED


def test_facilitator_sends_a_member_back_to_the_lobby_keeping_their_agreement() -> None:
    from rooms import commands as cmd
    from rooms.controller import apply
    from rooms.model import Role, Session, Status

    s = Session("s", "t", 0.0, requires_agreement=True)
    apply(s, "f", cmd.Connect("F", Role.FACILITATOR), 1.0)
    apply(s, "m", cmd.Connect("M", Role.MEMBER), 1.0)
    apply(s, "m", cmd.Agree(), 2.0)
    apply(s, "f", cmd.Admit("m"), 3.0)
    apply(s, "m", cmd.RaiseHand(), 4.0)
    apply(s, "f", cmd.SendToLobby("m"), 5.0)
    member = s.participants["m"]
    assert member.status is Status.WAITING and member.agreed and s.queue == []
    assert not s.audible("m")
    apply(s, "f", cmd.Admit("m"), 6.0)  # one click to let them back in
    assert member.status is Status.ADMITTED and member.joined_at == 3.0


def test_facilitator_walking_in_changes_who_the_forwarder_serves() -> None:
    from rooms import commands as cmd
    from rooms.controller import apply
    from rooms.events import MediaPolicyChanged
    from rooms.model import Role, Session

    s = Session("s", "t", 0.0)
    assert MediaPolicyChanged() in apply(s, "f", cmd.Connect("F", Role.FACILITATOR), 1.0)
    assert MediaPolicyChanged() not in apply(s, "m", cmd.Connect("M", Role.MEMBER), 1.0)  # waits
