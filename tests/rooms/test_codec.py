"""Session <-> dict for stores: lossless, JSON-safe, tolerant of old and new formats."""

from __future__ import annotations

import json

from rooms import commands as c
from rooms.codec import FORMAT, session_from_dict, session_to_dict
from rooms.controller import apply, tick
from rooms.model import (
    DEFAULT_AGENDA,
    MAIN,
    Breakout,
    FloorMode,
    Phase,
    Role,
    Session,
    SessionStatus,
    SideRoom,
    Status,
)
from tests.rooms.helpers import FAC, connect, live_group, new_session


def rich_session() -> Session:
    s = live_group(cofacilitator=True)
    agenda = (Phase("arrive", 5, FloorMode.OPEN), Phase("practice", 30, FloorMode.STRICT))
    apply(s, FAC, c.SetAgenda(agenda), 2.0)
    connect(s, "dan", now=5.0)
    apply(s, FAC, c.Mute("bob"), 6.0)
    apply(s, FAC, c.Remove("cat"), 7.0)
    apply(s, "bob", c.RaiseHand(), 8.0)
    apply(s, FAC, c.StartGoAround(turn_seconds=90), 9.0)
    apply(s, "ann", c.Nod(), 10.0)
    apply(s, FAC, c.Lock(), 11.0)
    return s


def test_round_trip_is_lossless() -> None:
    s = rich_session()
    back = session_from_dict(session_to_dict(s))
    assert back == s
    assert session_to_dict(back) == session_to_dict(s)


def test_round_trip_through_json() -> None:
    s = rich_session()
    back = session_from_dict(json.loads(json.dumps(session_to_dict(s))))
    assert back == s
    assert isinstance(back.participants["bob"].role, Role)
    assert isinstance(back.participants["cat"].status, Status)
    assert isinstance(back.agenda[1].floor_mode, FloorMode)


def test_ended_session_round_trips() -> None:
    s = rich_session()
    apply(s, FAC, c.End(), 50.0)
    back = session_from_dict(session_to_dict(s))
    assert back == s and back.status is SessionStatus.ENDED


def test_dict_carries_its_format_and_a_participant_list() -> None:
    data = session_to_dict(rich_session())
    assert data["format"] == FORMAT
    assert [p["id"] for p in data["participants"]] == [FAC, "cofac", "ann", "bob", "cat", "dan"]


def test_dict_is_a_copy() -> None:
    s = rich_session()
    data = session_to_dict(s)
    data["queue"].append("zed")
    data["participants"][0]["name"] = "Changed"
    data["go_around"]["order"].append("zed")
    data["floor"]["holder"] = "zed"
    data["agenda"][0]["name"] = "changed"
    assert "zed" not in s.queue and s.participants[FAC].name == "Fac"
    assert s.go_around is not None and "zed" not in s.go_around.order
    assert s.floor is not None and s.floor.holder == "ann"
    assert s.agenda[0].name == "arrive"


def test_unknown_keys_are_ignored() -> None:
    data = session_to_dict(rich_session())
    data["from_the_future"] = 1
    data["participants"][0]["mood"] = "calm"
    data["floor"]["colour"] = "blue"
    data["go_around"]["direction"] = "clockwise"
    assert session_from_dict(data) == rich_session()


def test_missing_keys_take_their_defaults() -> None:
    s = session_from_dict({"id": "s9", "title": "Old format", "created_at": 3.0})
    assert s == Session(id="s9", title="Old format", created_at=3.0)
    assert s.agenda == list(DEFAULT_AGENDA) and s.participants == {} and s.floor is None


def test_a_minimal_participant_takes_defaults() -> None:
    ann_data = {"id": "ann", "name": "Ann", "role": "member", "status": "waiting"}
    s = session_from_dict({"id": "s9", "title": "t", "created_at": 0.0, "participants": [ann_data]})
    ann = s.participants["ann"]
    assert ann.role is Role.MEMBER and ann.status is Status.WAITING and not ann.connected


def test_a_fresh_session_round_trips() -> None:
    s = new_session()
    assert session_from_dict(session_to_dict(s)) == s


def test_notes_are_never_in_the_stored_state() -> None:
    s = rich_session()
    apply(s, FAC, c.Note("ann", "something said in confidence"), 12.0)
    assert "confidence" not in json.dumps(session_to_dict(s))


def test_a_saved_copy_does_not_change_when_the_session_does() -> None:
    """The codec copies participants shallowly: that is a snapshot only while every field is immutable."""
    s = rich_session()
    saved = session_to_dict(s)
    for p in saved["participants"]:
        for name, value in p.items():
            assert isinstance(value, str | int | float | bool | None), f"Participant.{name} is mutable"
    before = json.dumps(saved, sort_keys=True)
    apply(s, FAC, c.Unlock(), 20.0)
    apply(s, FAC, c.Mute("ann"), 21.0)
    apply(s, FAC, c.StopGoAround(), 22.0)
    assert json.dumps(saved, sort_keys=True) == before


def session_with_places() -> Session:
    """A side room taken from a group, a breakout with a listening visitor, a warning given."""
    s = live_group(("ann", "bob", "cat", "dan"), cofacilitator=True)
    apply(s, FAC, c.StartBreakout(5, groups=(("ann", "bob"), ("cat", "dan"))), 10.0)
    apply(s, "cofac", c.StartSideRoom("ann"), 11.0)
    apply(s, FAC, c.VisitGroup(1, listen_only=True), 12.0)
    tick(s, 10.0 + 300 - 60)
    return s


def test_where_everyone_is_round_trips() -> None:
    s = session_with_places()
    assert s.breakout is not None and s.breakout.warned and s.side_rooms
    back = session_from_dict(json.loads(json.dumps(session_to_dict(s))))
    assert back == s
    assert back.side_rooms["ann"].back_to == "group:0"
    assert back.participants[FAC].place == "group:1" and back.participants[FAC].listen_only
    assert isinstance(back.breakout, Breakout) and isinstance(back.side_rooms["ann"], SideRoom)


def test_a_saved_copy_of_places_does_not_change_when_the_session_does() -> None:
    s = session_with_places()
    saved = session_to_dict(s)
    before = json.dumps(saved, sort_keys=True)
    apply(s, "cofac", c.EndSideRoom(), 300.0)
    tick(s, 400.0)
    assert s.breakout is None and not s.side_rooms
    assert json.dumps(saved, sort_keys=True) == before


def test_a_session_saved_before_places_existed_loads_with_everyone_in_the_main_room() -> None:
    data = session_to_dict(rich_session())
    for key in ("side_rooms", "breakout"):
        data.pop(key)
    for p in data["participants"]:
        p.pop("place")
        p.pop("listen_only")
    back = session_from_dict(data)
    assert back == rich_session()
    assert all(p.place == MAIN for p in back.participants.values()) and back.breakout is None
