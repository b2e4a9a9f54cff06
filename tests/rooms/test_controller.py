"""The controller as a whole: dispatch, versioning, and refusals that leave no trace."""

from __future__ import annotations

import typing

import pytest

from rooms import commands as c
from rooms.controller import RULES, apply
from rooms.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, RoomError
from rooms.events import Audited, SpeakingRecorded, changes_record
from rooms.model import FloorMode, Phase, Role
from tests.rooms.helpers import COFAC, FAC, connect, live_group, snapshot

SYSTEM = {c.Connect, c.Disconnect, c.SetPublishing, c.RecordSpeaking}


def test_every_command_has_exactly_one_route() -> None:
    every = set(typing.get_args(c.Command))
    assert set(RULES) | SYSTEM == every
    assert not set(RULES) & SYSTEM


def test_version_bumps_on_change_only() -> None:
    s = live_group()
    steps: list[tuple[str, c.Command, bool]] = [
        (FAC, c.Lock(), True),
        (FAC, c.Lock(), False),
        ("ann", c.RaiseHand(), True),
        ("ann", c.RaiseHand(), False),
        ("ann", c.LowerHand(), True),
        ("ann", c.LowerHand(), False),
        ("ann", c.SetMedia(audio=True, video=True), True),
        ("ann", c.SetMedia(audio=True, video=True), False),
        ("ann", c.Help(), True),  # an open request, in the facilitators' view
        (FAC, c.AckHelp("ann"), True),
        (FAC, c.AckHelp("ann"), False),
        ("ann", c.Nod(), False),
        (FAC, c.Note("ann", "hello"), False),
        (FAC, c.Mute("bob"), True),
        (FAC, c.Mute("bob"), False),
        (FAC, c.AllowUnmute("bob"), True),
        (FAC, c.AllowUnmute("bob"), False),
        ("ann", c.Disconnect(), True),
        ("ann", c.Disconnect(), False),
        (FAC, c.NextPhase(), True),
        (FAC, c.GrantFloor("bob"), True),
        (FAC, c.RecordSpeaking((("bob", 0.0),)), False),
        (FAC, c.RecordSpeaking((("bob", 1.0),)), True),
    ]
    for i, (actor, command, changes) in enumerate(steps):
        version = s.version
        events = apply(s, actor, command, 10.0 + i)
        assert s.version == version + (1 if changes else 0), command
        assert changes_record(events) is changes


def test_recording_speaking_time_changes_the_record_but_refreshes_no_view() -> None:
    """A group always has a speaker: recording its time must not resend everyone's whole view."""
    s = live_group()
    version = s.version
    events = apply(s, FAC, c.RecordSpeaking((("bob", 2.5),)), 10.0)
    assert events == [SpeakingRecorded()] and s.version == version + 1
    assert s.participants["bob"].spoke_seconds == 2.5


def test_version_bumps_once_per_command_however_much_changes() -> None:
    s = live_group()
    version = s.version
    apply(s, FAC, c.End(), 50.0)
    assert s.version == version + 1


FAILING: list[tuple[str, c.Command, type[RoomError]]] = [
    ("zed", c.SetMedia(audio=True, video=False), Forbidden),
    ("ann", c.Admit("dan"), Forbidden),
    ("dan", c.RaiseHand(), Forbidden),
    (FAC, c.Admit("zed"), NotFound),
    (FAC, c.Admit("dan"), Conflict),  # has not agreed
    (FAC, c.SetAgenda(()), Invalid),
    (FAC, c.SetAgenda((Phase("ok", 10, FloorMode.OPEN), Phase("", 10, FloorMode.OPEN))), Invalid),
    (FAC, c.SetPhase(9), NotFound),
    (FAC, c.StartGoAround(order=("ann", "zed")), NotFound),
    (FAC, c.StartGoAround(order=("ann", "dan")), Conflict),
    (FAC, c.GrantFloor("bob", turn_seconds=-1.0), Invalid),
    (FAC, c.NextFloor(turn_seconds=0.0), Invalid),
    (FAC, c.StopGoAround(), Conflict),
    (FAC, c.Remove(FAC), Conflict),
    (COFAC, c.Remove(FAC), Forbidden),
    (FAC, c.Mute(COFAC), Forbidden),
    (FAC, c.Deny("ann"), Conflict),
    ("ann", c.RaiseHand(), Conflict),  # ann holds the floor
    ("bob", c.ReleaseFloor(), Forbidden),
    ("bob", c.PassTurn(), Conflict),
    ("bob", c.Note("cat", "hi"), Forbidden),
    ("bob", c.Note(FAC, ""), Invalid),
    ("cat", c.Nod(), RateLimited),
    ("cat", c.SetMedia(audio=True, video=False), Conflict),  # muted
    (FAC, c.Help(), Forbidden),
    ("zed", c.Disconnect(), Forbidden),
]


@pytest.mark.parametrize(("actor", "command", "error"), FAILING, ids=[repr(f[1]) for f in FAILING])
def test_failed_command_leaves_session_unchanged(actor: str, command: c.Command, error: type[RoomError]) -> None:
    s = live_group(cofacilitator=True)
    connect(s, "dan", now=5.0)
    apply(s, "bob", c.RaiseHand(), 6.0)
    apply(s, FAC, c.GrantFloor("ann"), 7.0)
    apply(s, FAC, c.Mute("cat"), 7.0)
    apply(s, "cat", c.Nod(), 8.0)
    before = snapshot(s)
    with pytest.raises(error) as refused:
        apply(s, actor, command, 9.0)
    assert refused.value.code == error.code
    assert snapshot(s) == before


def test_error_codes_match_the_wire() -> None:
    assert {e.code for e in (Forbidden, Invalid, NotFound, Conflict, RateLimited)} == {
        "forbidden",
        "invalid",
        "not_found",
        "conflict",
        "rate_limited",
    }
    assert RoomError.code == "internal"


def test_facilitator_acts_are_audited_with_their_target() -> None:
    s = live_group()
    assert Audited("mute", "ann") in apply(s, FAC, c.Mute("ann"), 5.0)
    assert Audited("remove", "bob") in apply(s, FAC, c.Remove("bob"), 6.0)
    assert not any(isinstance(e, Audited) for e in apply(s, "ann", c.RaiseHand(), 7.0))


def test_connect_role_comes_from_the_first_connection() -> None:
    s = live_group()
    apply(s, "ann", c.Disconnect(), 5.0)
    apply(s, "ann", c.Connect("Ann", Role.FACILITATOR), 6.0)
    assert s.participants["ann"].role is Role.MEMBER
