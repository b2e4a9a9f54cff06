"""The emergency plan: shared privately with the facilitators, required for admission when asked for, never kept."""

from __future__ import annotations

import json

import pytest

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from rooms.events import Audited, LobbyChanged, SafetyPlanAsked, SafetyPlanShared, StateChanged
from rooms.model import Admission, Role, Status
from rooms.safety import MAX_PLAN_CHARS
from rooms.views import lobby_view, state_view
from tests.rooms.helpers import COFAC, FAC, connect, live_group, snapshot

PLAN = c.ShareSafetyPlan("Flat 2, Mill Road, Cambridge", "Priya (sister) 07700 900123")


def test_member_is_not_admitted_before_sharing_a_plan_when_the_session_requires_one() -> None:
    s = live_group(members=(), requires_safety_plan=True)
    connect(s, "dan", now=5.0)
    apply(s, "dan", c.Agree(), 6.0)
    with pytest.raises(Conflict, match="emergency contact"):
        apply(s, FAC, c.Admit("dan"), 7.0)
    assert s.participants["dan"].status is Status.WAITING
    apply(s, "dan", PLAN, 8.0)
    apply(s, FAC, c.Admit("dan"), 9.0)
    assert s.participants["dan"].status is Status.ADMITTED


def test_sharing_delivers_the_plan_and_the_session_keeps_only_that_it_was_shared() -> None:
    s = live_group(members=(), requires_safety_plan=True)
    connect(s, "dan", now=5.0)
    events = apply(s, "dan", PLAN, 6.0)
    assert events == [
        SafetyPlanShared("dan", "Flat 2, Mill Road, Cambridge", "Priya (sister) 07700 900123", 6.0),
        StateChanged(),
        LobbyChanged(),
    ]
    assert s.participants["dan"].safety_shared
    stored = json.dumps(snapshot(s))
    assert "Mill Road" not in stored and "Priya" not in stored and "900123" not in stored


def test_open_admission_lets_a_member_in_once_the_agreement_and_the_plan_are_in() -> None:
    s = live_group(members=(), admission=Admission.OPEN, requires_safety_plan=True)
    connect(s, "dan", now=5.0)
    apply(s, "dan", PLAN, 6.0)
    assert s.participants["dan"].status is Status.WAITING  # the agreement is still missing
    apply(s, "dan", c.Agree(), 7.0)
    assert s.participants["dan"].status is Status.ADMITTED


def test_open_admission_admits_on_sharing_when_the_agreement_came_first() -> None:
    s = live_group(members=(), admission=Admission.OPEN, requires_safety_plan=True)
    connect(s, "dan", now=5.0)
    apply(s, "dan", c.Agree(), 6.0)
    assert s.participants["dan"].status is Status.WAITING
    apply(s, "dan", PLAN, 7.0)
    assert s.participants["dan"].status is Status.ADMITTED


def test_admit_all_passes_over_members_who_have_not_shared() -> None:
    s = live_group(members=(), requires_safety_plan=True)
    for i, pid in enumerate(("dan", "eve"), start=5):
        connect(s, pid, now=float(i))
        apply(s, pid, c.Agree(), float(i))
    apply(s, "eve", PLAN, 7.0)
    apply(s, FAC, c.AdmitAll(), 8.0)
    assert s.participants["eve"].status is Status.ADMITTED
    assert s.participants["dan"].status is Status.WAITING


def test_sessions_that_do_not_require_a_plan_admit_without_one_but_still_carry_it() -> None:
    s = live_group(members=())
    connect(s, "dan", now=5.0)
    apply(s, "dan", c.Agree(), 6.0)
    apply(s, FAC, c.Admit("dan"), 7.0)
    assert s.participants["dan"].status is Status.ADMITTED
    assert apply(s, "dan", PLAN, 8.0)[0] == SafetyPlanShared("dan", PLAN.location, PLAN.contact, 8.0)


@pytest.mark.parametrize(
    ("location", "contact"),
    [("", "Priya 07700 900123"), ("   ", "Priya"), ("home", ""), ("x" * (MAX_PLAN_CHARS + 1), "Priya")],
)
def test_a_blank_or_overlong_plan_is_refused_and_changes_nothing(location: str, contact: str) -> None:
    s = live_group(members=(), requires_safety_plan=True)
    connect(s, "dan", now=5.0)
    before = snapshot(s)
    with pytest.raises(Invalid):
        apply(s, "dan", c.ShareSafetyPlan(location, contact), 6.0)
    assert snapshot(s) == before


def test_a_way_to_call_back_if_the_call_drops_is_optional_and_delivered_trimmed() -> None:
    s = live_group(members=("ann", "ben"))
    assert apply(s, "ann", PLAN, 10.0)[0].callback == ""  # type: ignore[attr-defined]
    plan = c.ShareSafetyPlan(PLAN.location, PLAN.contact, "  my mobile 07700 900456 ")
    shared = SafetyPlanShared("ben", PLAN.location, PLAN.contact, 10.0, callback="my mobile 07700 900456")
    assert apply(s, "ben", plan, 10.0)[0] == shared


def test_an_overlong_way_to_call_back_is_refused_and_changes_nothing() -> None:
    s = live_group(members=(), requires_safety_plan=True)
    connect(s, "dan", now=5.0)
    before = snapshot(s)
    with pytest.raises(Invalid, match="call back"):
        apply(s, "dan", c.ShareSafetyPlan(PLAN.location, PLAN.contact, "1" * (MAX_PLAN_CHARS + 1)), 6.0)
    assert snapshot(s) == before


def test_sharing_again_within_two_seconds_is_rate_limited_then_delivered_again() -> None:
    s = live_group(members=("ann",), requires_safety_plan=True)
    apply(s, "ann", PLAN, 10.0)
    with pytest.raises(RateLimited):
        apply(s, "ann", PLAN, 11.0)
    assert apply(s, "ann", PLAN, 12.5) == [SafetyPlanShared("ann", PLAN.location, PLAN.contact, 12.5)]


def test_a_member_back_after_the_grace_period_has_still_shared_this_session() -> None:
    s = live_group(members=("ann",), requires_safety_plan=True)
    apply(s, "ann", c.Disconnect(), 10.0)
    tick(s, 10.0 + s.grace_seconds)
    assert s.participants["ann"].status is Status.LEFT
    connect(s, "ann", now=200.0)
    assert s.participants["ann"].safety_shared
    apply(s, FAC, c.Admit("ann"), 201.0)
    assert s.participants["ann"].status is Status.ADMITTED


def test_facilitators_never_share_a_plan_and_members_never_ask_for_one() -> None:
    s = live_group(members=("ann",), cofacilitator=True, requires_safety_plan=True)
    for lead in (FAC, COFAC):
        with pytest.raises(Forbidden):
            apply(s, lead, PLAN, 5.0)
    with pytest.raises(Forbidden):
        apply(s, "ann", c.AskSafetyPlan(), 5.0)


def test_facilitator_asks_one_member_or_every_member_waiting_or_in_the_room() -> None:
    s = live_group(members=("ann", "bob"), cofacilitator=True, requires_safety_plan=True)
    connect(s, "dan", now=5.0)  # waiting
    assert apply(s, FAC, c.AskSafetyPlan("bob"), 6.0) == [SafetyPlanAsked(("bob",)), Audited("safety.ask", "bob")]
    asked = apply(s, COFAC, c.AskSafetyPlan(), 7.0)
    assert asked == [SafetyPlanAsked(("ann", "bob", "dan")), Audited("safety.ask", None)]


@pytest.mark.parametrize("target", ["nobody", FAC, "cat"])
def test_asking_someone_who_is_not_a_member_present_is_not_found(target: str) -> None:
    s = live_group(members=("ann", "cat"), requires_safety_plan=True)
    apply(s, FAC, c.Remove("cat", "agreement"), 5.0)
    with pytest.raises(NotFound):
        apply(s, FAC, c.AskSafetyPlan(target), 6.0)


def test_only_facilitators_see_who_has_shared() -> None:
    s = live_group(members=("ann",), requires_safety_plan=True)
    connect(s, "dan", now=5.0)
    leads, members = state_view(s, 6.0, leads=True), state_view(s, 6.0, leads=False)
    assert leads["requires_safety_plan"] is members["requires_safety_plan"] is True
    by_id = {p["id"]: p for p in leads["participants"]}
    assert by_id["ann"]["safety_shared"] is True and by_id[FAC]["safety_shared"] is False
    assert all("safety_shared" not in p for p in members["participants"])
    assert lobby_view(s)["waiting"][0]["safety_shared"] is False
    assert {p.role for p in s.participants.values() if p.safety_shared} == {Role.MEMBER}
