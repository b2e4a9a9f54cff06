"""What each audience sees: facilitators, admitted members, people waiting, and the records."""

from __future__ import annotations

import json

from rooms import commands as c
from rooms.controller import apply
from rooms.model import Session
from rooms.views import attendance_view, lobby_view, state_view
from tests.rooms.helpers import FAC, connect, live_group, new_session


def busy_group() -> Session:
    s = live_group()
    connect(s, "dan", now=5.0)  # waiting
    apply(s, FAC, c.Remove("cat", "disruptive"), 6.0)
    apply(s, "bob", c.RaiseHand(), 7.0)
    apply(s, FAC, c.GrantFloor("ann", turn_seconds=60), 8.0)
    apply(s, FAC, c.RecordSpeaking((("ann", 12.34),)), 9.0)
    apply(s, "ann", c.SetPublishing(True), 9.0)
    return s


def ids(view: dict[str, object]) -> list[str]:
    participants = view["participants"]
    assert isinstance(participants, list)
    return [p["id"] for p in participants]


def test_waiting_member_view_has_no_roster() -> None:
    s = busy_group()
    view = state_view(s, 10.0, leads=False, admitted=False)
    assert view["participants"] == [] and view["queue"] == []
    assert view["floor"] is None and view["go_around"] is None
    assert view["title"] == "Tuesday evening group"
    assert view["agenda"][0]["name"] == "check-in"
    for name in ("Ann", "Bob", "Cat", "Dan"):
        assert name not in json.dumps(view)


def test_every_view_carries_the_servers_clock_the_schedule_and_who_facilitates() -> None:
    s = busy_group()
    s.starts_at = 1800.0
    for view in (
        state_view(s, 10.0, leads=leads, admitted=admitted)
        for leads, admitted in ((True, True), (False, True), (False, False))
    ):
        assert view["now"] == 10.0 and view["starts_at"] == 1800.0
        assert view["facilitators"] == [{"id": FAC, "name": "Fac", "role": "facilitator", "connected": True}]


def test_only_facilitators_see_an_open_help_request() -> None:
    s = busy_group()
    apply(s, "bob", c.Help(), 10.0)
    connect(s, "eve", now=10.0)
    apply(s, "eve", c.Help(), 11.0)
    leads = {p["id"]: p for p in state_view(s, 12.0, leads=True)["participants"]}
    assert leads["bob"]["help_since"] == 10.0 and leads["ann"]["help_since"] is None
    assert [w["help_since"] for w in lobby_view(s)["waiting"] if w["id"] == "eve"] == [11.0]
    for view in (state_view(s, 12.0, leads=False), state_view(s, 12.0, leads=False, admitted=False)):
        assert "help_since" not in json.dumps(view)


def test_members_view_omits_removed() -> None:
    s = busy_group()
    view = state_view(s, 10.0, leads=False)
    assert ids(view) == [FAC, "ann", "bob"]
    assert all("spoke_seconds" not in p and "passes" not in p for p in view["participants"])
    assert all("disconnected_at" not in p for p in view["participants"])


def test_facilitators_view_shows_removed_and_left_but_not_waiting() -> None:
    s = busy_group()
    view = state_view(s, 10.0, leads=True)
    assert ids(view) == [FAC, "ann", "bob", "cat"]
    statuses = {p["id"]: p["status"] for p in view["participants"]}
    assert statuses["cat"] == "removed"
    ann = next(p for p in view["participants"] if p["id"] == "ann")
    assert ann["spoke_seconds"] == 12.3 and ann["passes"] == 0
    assert ann["disconnected_at"] is None


def test_facilitators_see_when_a_dropped_connection_went_until_it_is_back() -> None:
    s = busy_group()
    apply(s, "bob", c.Disconnect(), 11.5)
    bob = next(p for p in state_view(s, 12.0, leads=True)["participants"] if p["id"] == "bob")
    assert bob["connected"] is False and bob["disconnected_at"] == 11.5
    connect(s, "bob", now=13.0)
    bob = next(p for p in state_view(s, 14.0, leads=True)["participants"] if p["id"] == "bob")
    assert bob["connected"] is True and bob["disconnected_at"] is None


def test_participant_view_says_hand_floor_media_and_streams() -> None:
    s = busy_group()
    view = state_view(s, 10.0, leads=False)
    by_id = {p["id"]: p for p in view["participants"]}
    assert by_id["bob"]["hand_raised"] and not by_id["ann"]["hand_raised"]
    assert by_id["ann"]["stream_ids"] == ["hearth-ann"] and by_id["bob"]["stream_ids"] == []
    assert set(by_id["ann"]) == {
        "id",
        "name",
        "role",
        "status",
        "connected",
        "hand_raised",
        "audio",
        "video",
        "forced_mute",
        "audible",
        "listen_only",
        "stream_ids",
        "presence",
    }
    assert view["floor"] == {"holder": "ann", "since": 8.0, "ends_at": 68.0, "remaining": 58.0}
    assert view["queue"] == ["bob"]


def test_state_view_matches_the_protocol_shape_and_is_json() -> None:
    s = busy_group()
    view = state_view(s, 10.0, leads=True)
    json.dumps(view)
    for key in (
        "id",
        "title",
        "version",
        "status",
        "locked",
        "phase",
        "agenda",
        "floor",
        "queue",
        "go_around",
        "participants",
    ):
        assert key in view
    assert view["status"] == "live"
    assert {"index", "name", "started_at", "minutes", "floor_mode"} <= set(view["phase"])


def test_phase_view_counts_time() -> None:
    s = live_group()  # the clock started with the first admission, at 1
    phase = state_view(s, 61.0, leads=False)["phase"]
    assert phase["elapsed"] == 60.0 and phase["remaining"] == 15 * 60 - 60.0
    assert phase["ends_at"] == 1 + 15 * 60 and phase["overtime"] is False
    assert state_view(s, 5000.0, leads=False)["phase"]["remaining"] == 0.0


def test_phase_view_before_the_session_is_live() -> None:
    phase = state_view(new_session(), 60.0, leads=False)["phase"]
    assert phase["started_at"] is None and phase["elapsed"] is None and phase["remaining"] is None


def test_go_around_view() -> None:
    s = live_group()
    apply(s, FAC, c.StartGoAround(turn_seconds=30), 10.0)
    assert state_view(s, 11.0, leads=False)["go_around"] == {
        "order": ["ann", "bob", "cat"],
        "position": 0,
        "turn_ends_at": 40.0,
        "turn_remaining": 29.0,
    }


def test_lobby_view_lists_only_those_waiting() -> None:
    s = busy_group()
    apply(s, "dan", c.Agree(), 11.0)
    assert lobby_view(s) == {
        "waiting": [
            {
                "id": "dan",
                "name": "Dan",
                "agreed": True,
                "safety_shared": False,
                "since": 5.0,
                "connected": True,
                "help_since": None,
            }
        ]
    }


def test_attendance_has_no_content() -> None:
    s = busy_group()
    apply(s, FAC, c.Note("ann", "a private word"), 12.0)
    apply(s, FAC, c.End(), 100.0)
    rows = attendance_view(s)
    assert all(set(r) == {"id", "name", "role", "joined_at", "left_at", "spoke_seconds"} for r in rows)
    assert [r["id"] for r in rows] == [FAC, "ann", "bob", "cat"]  # dan never joined
    ann = rows[1]
    assert ann == {
        "id": "ann",
        "name": "Ann",
        "role": "member",
        "joined_at": 1.0,
        "left_at": 100.0,
        "spoke_seconds": 12.3,
    }
    assert rows[3]["left_at"] == 6.0
    assert "private" not in json.dumps(rows)
