"""What the signaling layer derives from places: the forwarding policy the media engine gates with,
the Socket.IO room each participant's socket belongs in, and which emits reach which place."""

from __future__ import annotations

from itertools import permutations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.model import MAIN, Session
from rooms.places import hears, sees
from signaling.emits import (
    audience_room,
    emits_for,
    leads_room,
    members_room,
    participant_room,
    speaking_emits,
    state_emits,
)
from signaling.ports import ForwardingPolicy
from tests.rooms.helpers import COFAC, FAC, connect, live_group
from tests.rooms.test_invariants import Step, place_steps, run_full_room
from tests.rooms.test_places import CASES


def assert_policy_agrees(s: Session) -> None:
    policy = ForwardingPolicy.of(s)
    for r, p in permutations(s.participants, 2):
        assert policy.sees(r, p) is sees(s, r, p), (r, p)
        assert policy.hears(r, p) is hears(s, r, p), (r, p)


@pytest.mark.parametrize("case", list(CASES))
def test_the_policy_answers_as_the_domain_does(case: str) -> None:
    assert_policy_agrees(CASES[case][0]())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agenda=st.sampled_from(("default", "strict", "pairs")), plan=st.lists(place_steps, min_size=10, max_size=40))
def test_the_policy_answers_as_the_domain_does_in_random_sessions(agenda: str, plan: list[Step]) -> None:
    run_full_room(agenda, 60.0, plan, assert_policy_agrees)


def test_a_policy_without_places_means_what_it_always_meant() -> None:
    """An engine or a test that builds the old two-field policy gets everyone in the main room."""
    policy = ForwardingPolicy(frozenset({"a", "b", "c"}), frozenset({"a"}))
    assert policy.hears("b", "a") and policy.hears("c", "a") and not policy.hears("a", "b")
    assert policy.sees("a", "b") and policy.sees("b", "c") and not policy.sees("a", "a")
    assert not policy.sees("a", "zed") and not policy.hears("zed", "a")


def test_the_policy_lists_only_those_away_from_the_main_room() -> None:
    s = live_group(("ann", "bob", "cat"), cofacilitator=True)
    assert ForwardingPolicy.of(s).places == {}
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    apply(s, FAC, c.StartBreakout(5, groups=(("bob", "cat"),)), 11.0)
    apply(s, FAC, c.VisitGroup(0, listen_only=True), 12.0)
    policy = ForwardingPolicy.of(s)
    assert policy.places == {COFAC: "side:ann", "ann": "side:ann", "bob": "group:0", "cat": "group:0", FAC: "group:0"}
    assert FAC not in policy.audible and policy.place_of("nobody") == MAIN
    assert policy == ForwardingPolicy.of(s) and hash(policy) == hash(ForwardingPolicy.of(s))
    assert policy != ForwardingPolicy(policy.members, policy.audible)  # a move is a new policy


def test_each_socket_belongs_in_its_places_room() -> None:
    s = live_group(("ann", "bob", "cat"), cofacilitator=True)
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    apply(s, FAC, c.StartBreakout(5, groups=(("bob",),)), 11.0)
    connect(s, "zed", now=12.0)
    rooms = {pid: audience_room("s1", p) for pid, p in s.participants.items()}
    assert rooms == {
        FAC: leads_room("s1"),
        COFAC: leads_room("s1"),
        "ann": "s:s1:members:side:ann",
        "bob": "s:s1:members:group:0",
        "cat": "s:s1:members",
        "zed": "s:s1:waiting",
    }
    assert members_room("s1") == members_room("s1", MAIN) == "s:s1:members"  # the name clients knew


def test_every_place_with_someone_connected_gets_its_own_state() -> None:
    s = live_group(("ann", "bob", "cat"), cofacilitator=True)
    apply(s, COFAC, c.StartSideRoom("ann"), 10.0)
    apply(s, FAC, c.StartBreakout(5, groups=(("bob",),)), 11.0)
    by_room = {e.room: e.data for e in state_emits(s, 12.0)}
    assert set(by_room) == {leads_room("s1"), "s:s1:members", "s:s1:members:side:ann", "s:s1:members:group:0"}
    assert by_room["s:s1:members:group:0"]["place"] == {"kind": "group", "group": 0}
    assert by_room["s:s1:members"]["place"] == {"kind": "main", "group": None}


def test_the_warning_and_a_broadcast_reach_the_groups_and_the_facilitators_only() -> None:
    s = live_group(("ann", "bob", "cat", "dan", "eve"), cofacilitator=True)
    apply(s, FAC, c.StartBreakout(5, groups=(("ann", "bob"), ("cat", "dan"))), 10.0)
    apply(s, COFAC, c.StartSideRoom("eve"), 11.0)
    events = apply(s, FAC, c.BroadcastToGroups("Swap roles now"), 12.0)
    emits = [e for e in emits_for(s, events, 12.0) if e.event == "breakout.broadcast"]
    assert {e.room for e in emits} == {"s:s1:members:group:0", "s:s1:members:group:1", leads_room("s1")}
    assert emits[0].data == {"from": FAC, "name": "Fac", "text": "Swap roles now", "at": 12.0}
    warned = [e for e in emits_for(s, tick(s, 10.0 + 240), 250.0) if e.event == "breakout.warning"]
    assert {e.room for e in warned} == {"s:s1:members:group:0", "s:s1:members:group:1", leads_room("s1")}
    assert warned[0].data == {"ends_at": 310.0}
    assert participant_room("s1", "eve") not in {e.room for e in emits + warned}


def test_speaking_levels_reach_only_the_speakers_place_and_every_facilitator() -> None:
    places = {"ann": "side:ann", COFAC: "side:ann", "bob": "group:0", "cat": "group:0"}
    levels = {"ann": 0.5, COFAC: 0.1, "bob": 0.8, "dan": 0.3, FAC: 0.2}
    by_room = {e.room: e.data for e in speaking_emits("s1", places, levels, "bob")}
    assert by_room == {
        leads_room("s1"): {"levels": levels, "active": "bob"},
        "s:s1:members": {"levels": {"dan": 0.3, FAC: 0.2}, "active": None},
        "s:s1:members:side:ann": {"levels": {"ann": 0.5, COFAC: 0.1}, "active": None},
        "s:s1:members:group:0": {"levels": {"bob": 0.8}, "active": "bob"},
    }


def test_without_places_speaking_goes_to_the_facilitators_and_the_members_as_before() -> None:
    emits = speaking_emits("s1", {}, {"ann": 0.12345}, "ann")
    assert [(e.room, e.data) for e in emits] == [
        (leads_room("s1"), {"levels": {"ann": 0.123}, "active": "ann"}),
        (members_room("s1"), {"levels": {"ann": 0.123}, "active": "ann"}),
    ]
