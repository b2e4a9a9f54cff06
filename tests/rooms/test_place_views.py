"""What each place sees: the main room "stepped out" and no more, a group its group and its time,
a side room its two, facilitators every place; waiting members nothing of any of it."""

from __future__ import annotations

import json
from typing import Any

from rooms import commands as c
from rooms.controller import apply
from rooms.model import Session
from rooms.views import Audience, View, state_view, state_views, view_of
from tests.rooms.helpers import COFAC, FAC, connect, live_group


def busy() -> Session:
    """cofac has ann aside; bob and cat practise in group 0, dan and eve in group 1, the facilitator
    visits group 1 to listen; fay stays in the main room; zed waits in the lobby."""
    s = live_group(("ann", "bob", "cat", "dan", "eve", "fay"), cofacilitator=True)
    connect(s, "zed", now=9.0)
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    apply(s, FAC, c.StartBreakout(5, groups=(("bob", "cat"), ("dan", "eve"))), 11.0)
    apply(s, FAC, c.VisitGroup(1, listen_only=True), 12.0)
    return s


def presence(view: dict[str, Any]) -> dict[str, str]:
    return {p["id"]: p["presence"] for p in view["participants"]}


def test_the_main_room_sees_stepped_out_and_in_a_group_and_no_more() -> None:
    view = state_view(busy(), 20.0, leads=False, place="main")
    assert presence(view) == {
        FAC: "in_group",
        COFAC: "stepped_out",
        "ann": "stepped_out",
        "bob": "in_group",
        "cat": "in_group",
        "dan": "in_group",
        "eve": "in_group",
        "fay": "here",
    }
    assert view["place"] == {"kind": "main", "group": None}
    assert view["breakout"] == {"count": 2, "ends_at": 311.0, "remaining": 291.0, "warned": False}
    text = json.dumps(view)
    assert "side:" not in text and "group:" not in text and "side_rooms" not in view  # not with whom, nor where
    assert all("place" not in p for p in view["participants"])


def test_a_group_sees_its_group_and_its_time_and_a_quiet_visitor() -> None:
    view = state_view(busy(), 20.0, leads=False, place="group:1")
    here = {pid for pid, where in presence(view).items() if where == "here"}
    assert here == {FAC, "dan", "eve"}
    assert {where for pid, where in presence(view).items() if pid not in here} == {"elsewhere"}
    assert view["place"] == {"kind": "group", "group": 1}
    assert view["breakout"]["remaining"] == 291.0
    by_id = {p["id"]: p for p in view["participants"]}
    assert by_id[FAC]["listen_only"] is True and by_id[FAC]["audible"] is False  # listening, not heard
    assert by_id["dan"]["audible"] is True and by_id["bob"]["audible"] is False  # bob is in another group
    assert "stepped_out" not in json.dumps(view) and "bob" not in json.dumps(view["breakout"])


def test_a_side_room_sees_its_two() -> None:
    view = state_view(busy(), 20.0, leads=False, place="side:ann")
    assert {pid for pid, where in presence(view).items() if where == "here"} == {COFAC, "ann"}
    assert view["place"] == {"kind": "side", "group": None}


def test_facilitators_see_every_place_who_is_in_it_and_its_timer() -> None:
    view = state_view(busy(), 20.0, leads=True)
    assert {p["id"]: p["place"] for p in view["participants"]} == {
        FAC: "group:1",
        COFAC: "side:ann",
        "ann": "side:ann",
        "bob": "group:0",
        "cat": "group:0",
        "dan": "group:1",
        "eve": "group:1",
        "fay": "main",
    }
    assert view["side_rooms"] == [{"member": "ann", "lead": COFAC, "since": 10.0, "back_to": "main"}]
    assert view["breakout"] == {
        "count": 2,
        "groups": [
            {"index": 0, "members": ["bob", "cat"], "visitors": []},
            {"index": 1, "members": ["dan", "eve"], "visitors": [FAC]},
        ],
        "minutes": 5,
        "started_at": 11.0,
        "ends_at": 311.0,
        "remaining": 291.0,
        "warned": False,
    }
    assert all("presence" not in p for p in view["participants"])


def test_waiting_members_see_nothing_of_any_place() -> None:
    view = state_view(busy(), 20.0, leads=False, admitted=False)
    assert view["participants"] == [] and view["breakout"] is None
    text = json.dumps(view)
    for word in ("Ann", "Bob", "side:", "group:", "stepped_out", "in_group"):
        assert word not in text


def test_without_places_the_members_view_is_as_before_with_everyone_here() -> None:
    s = live_group(cofacilitator=True)
    view = state_view(s, 10.0, leads=False)
    assert set(presence(view).values()) == {"here"} and view["breakout"] is None
    assert view["place"] == {"kind": "main", "group": None}
    assert state_view(s, 10.0, leads=True)["side_rooms"] == []


def test_each_participant_gets_the_view_of_their_place() -> None:
    s = busy()
    assert view_of(s.participants["fay"]) == View(Audience.MEMBERS, "main")
    assert view_of(s.participants["ann"]) == View(Audience.MEMBERS, "side:ann")
    assert view_of(s.participants["bob"]) == View(Audience.MEMBERS, "group:0")
    assert view_of(s.participants[FAC]) == View(Audience.LEADS)  # wherever they are
    assert view_of(s.participants[COFAC]) == View(Audience.LEADS)
    assert view_of(s.participants["zed"]) == View(Audience.WAITING)
    apply(s, FAC, c.Remove("fay"), 30.0)
    assert view_of(s.participants["fay"]) is None


def test_views_for_several_places_are_built_at_once_and_agree_with_one_by_one() -> None:
    s = busy()
    wanted = [View(Audience.LEADS), View(Audience.MEMBERS, "group:0"), View(Audience.MEMBERS, "main")]
    views = state_views(s, 20.0, wanted)
    assert list(views) == wanted
    assert views[View(Audience.MEMBERS, "group:0")] == state_view(s, 20.0, leads=False, place="group:0")
    assert views[View(Audience.LEADS)] == state_view(s, 20.0, leads=True)
