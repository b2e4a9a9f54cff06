"""Dropped connections and leaving: the seat is kept for the grace period, then attendance ends."""

from __future__ import annotations

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.events import LobbyChanged, MediaPolicyChanged, ParticipantLeft, StateChanged
from rooms.model import FLOOR_DROP_HOLD_SECONDS, Admission, Role, Status
from tests.rooms.helpers import FAC, connect, live_group, snapshot

GRACE = 60.0


def test_default_grace_period_is_a_minute() -> None:
    assert live_group().grace_seconds == GRACE


def test_disconnect_marks_the_participant_and_nothing_else() -> None:
    s = live_group()
    events = apply(s, "ann", c.Disconnect(), 10.0)
    ann = s.participants["ann"]
    assert events == [StateChanged()]
    assert not ann.connected and ann.disconnected_at == 10.0 and ann.status is Status.ADMITTED


def test_disconnected_member_keeps_seat_and_queue_place_for_grace_period() -> None:
    s = live_group()
    apply(s, "bob", c.RaiseHand(), 5.0)
    apply(s, "cat", c.RaiseHand(), 5.0)
    apply(s, FAC, c.GrantFloor("ann"), 6.0)
    apply(s, "bob", c.Disconnect(), 10.0)
    before = snapshot(s)
    assert tick(s, 10.0 + GRACE - 0.1) == []
    assert snapshot(s) == before
    connect(s, "bob", now=10.0 + GRACE - 0.1)
    assert s.floor is not None and s.floor.holder == "ann"
    assert s.queue == ["bob", "cat"]
    assert {s.participants[p].status for p in ("ann", "bob")} == {Status.ADMITTED}
    assert {s.participants[p].status for p in ("ann", "bob")} == {Status.ADMITTED}
    assert tick(s, 800.0) == []  # no expiry after the reconnect


def test_disconnected_member_keeps_their_go_around_turn_through_a_blip() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(), 5.0)
    apply(s, "ann", c.Disconnect(), 6.0)
    tick(s, 6.0 + FLOOR_DROP_HOLD_SECONDS - 1)
    assert s.floor is not None and s.floor.holder == "ann"


def test_grace_expiry_counts_as_left_and_drops_queue_and_floor() -> None:
    s = live_group()
    apply(s, "bob", c.RaiseHand(), 5.0)
    apply(s, "cat", c.RaiseHand(), 5.0)
    apply(s, FAC, c.GrantFloor("ann"), 6.0)
    apply(s, "ann", c.Disconnect(), 10.0)
    apply(s, "bob", c.Disconnect(), 20.0)
    version = s.version
    events = tick(s, 10.0 + GRACE)
    ann = s.participants["ann"]
    assert ann.status is Status.LEFT and ann.left_at == 10.0 + GRACE
    assert s.floor is None
    assert ParticipantLeft("ann") in events and MediaPolicyChanged() in events
    assert s.version == version + 1
    assert s.queue == ["bob", "cat"]
    tick(s, 20.0 + GRACE)
    assert s.participants["bob"].status is Status.LEFT
    assert s.queue == ["cat"]


def test_grace_expiry_moves_the_go_around_on() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(), 5.0)
    apply(s, "ann", c.Disconnect(), 6.0)
    tick(s, 6.0 + GRACE)
    assert s.go_around is not None and s.go_around.order == ["bob", "cat"]
    assert s.floor is not None and s.floor.holder == "bob" and s.floor.since == 6.0 + GRACE


def test_the_grace_period_is_per_session() -> None:
    s = live_group(grace_seconds=5.0)
    apply(s, "ann", c.Disconnect(), 10.0)
    tick(s, 15.0)
    assert s.participants["ann"].status is Status.LEFT


def test_waiting_member_who_never_returns_leaves_the_lobby_without_attendance() -> None:
    s = live_group()
    connect(s, "dan", now=5.0)
    apply(s, "dan", c.Disconnect(), 6.0)
    events = tick(s, 6.0 + GRACE)
    dan = s.participants["dan"]
    assert dan.status is Status.LEFT and dan.joined_at is None and dan.left_at is None
    assert LobbyChanged() in events


def test_member_who_returns_after_the_grace_period_waits_again_with_their_record() -> None:
    s = live_group()
    apply(s, FAC, c.RecordSpeaking((("ann", 30.0),)), 5.0)
    apply(s, "ann", c.Disconnect(), 10.0)
    tick(s, 10.0 + GRACE)
    connect(s, "ann", now=200.0)
    ann = s.participants["ann"]
    assert ann.status is Status.WAITING and ann.connected and ann.agreed
    assert ann.joined_at == 1.0 and ann.spoke_seconds == 30.0 and ann.waiting_since == 200.0
    apply(s, FAC, c.Admit("ann"), 210.0)
    assert ann.status is Status.ADMITTED and ann.joined_at == 1.0 and ann.left_at is None


def test_member_who_returns_with_open_admission_walks_back_in() -> None:
    s = live_group(admission=Admission.OPEN)
    apply(s, "ann", c.Disconnect(), 10.0)
    tick(s, 10.0 + GRACE)
    connect(s, "ann", now=200.0)
    assert s.participants["ann"].status is Status.ADMITTED


def test_facilitator_who_returns_after_the_grace_period_is_back_in_at_once() -> None:
    s = live_group()
    apply(s, FAC, c.Disconnect(), 10.0)
    tick(s, 10.0 + GRACE)
    assert s.participants[FAC].status is Status.LEFT
    connect(s, FAC, Role.FACILITATOR, now=300.0)
    fac = s.participants[FAC]
    assert fac.status is Status.ADMITTED and fac.joined_at == 0.0 and not s.on_hold


def test_disconnected_participants_count_as_present_until_the_grace_ends() -> None:
    s = live_group()
    apply(s, "ann", c.Disconnect(), 10.0)
    assert s.participants["ann"].present
    tick(s, 10.0 + GRACE)
    assert not s.participants["ann"].present
