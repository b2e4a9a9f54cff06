"""Who may do what: every action against every role and every status, written out by hand."""

from __future__ import annotations

import pytest

from rooms import commands as c
from rooms.controller import apply, tick
from rooms.errors import Forbidden
from rooms.model import Participant, Role, Status
from rooms.permissions import PERMISSIONS, STATUS_ALLOWS, Action, can, check
from tests.rooms.helpers import FAC, connect, live_group, snapshot

F, CO, M = Role.FACILITATOR, Role.COFACILITATOR, Role.MEMBER
LEADS = {F, CO}
ALL = {F, CO, M}

EXPECTED: dict[Action, set[Role]] = {
    Action.AGREE: {M},
    Action.ADMIT: LEADS,
    Action.ADMIT_ALL: LEADS,
    Action.DENY: LEADS,
    Action.REMOVE: LEADS,
    Action.SEND_TO_LOBBY: LEADS,
    Action.LOCK: LEADS,
    Action.UNLOCK: LEADS,
    Action.SET_AGENDA: LEADS,
    Action.NEXT_PHASE: LEADS,
    Action.SET_PHASE: LEADS,
    Action.RAISE_HAND: {M},
    Action.LOWER_HAND: {M},
    Action.GRANT_FLOOR: LEADS,
    Action.NEXT_FLOOR: LEADS,
    Action.RELEASE_FLOOR: ALL,
    Action.START_GOAROUND: LEADS,
    Action.PASS_TURN: ALL,
    Action.STOP_GOAROUND: LEADS,
    Action.MUTE: LEADS,
    Action.ALLOW_UNMUTE: LEADS,
    Action.SET_MEDIA: ALL,
    Action.SET_RECEIVE: ALL,
    Action.NOD: {M},
    Action.NOTE: ALL,
    Action.HELP: {M},
    Action.ACK_HELP: LEADS,
    Action.SHARE_SAFETY_PLAN: {M},
    Action.ASK_SAFETY_PLAN: LEADS,
    Action.END: LEADS,
    Action.SIDE_START: LEADS,
    Action.SIDE_END: LEADS,
    Action.BREAKOUT_START: LEADS,
    Action.BREAKOUT_VISIT: LEADS,
    Action.BREAKOUT_LEAVE: LEADS,
    Action.BREAKOUT_MOVE: LEADS,
    Action.BREAKOUT_BROADCAST: LEADS,
    Action.BREAKOUT_END: LEADS,
    Action.PUBLISH: ALL,
    Action.ANSWER: ALL,
    Action.SHARE_MEDIA_KEY: ALL,
    Action.GRANT_MEDIA_KEY: LEADS,
}

EXPECTED_BY_STATUS: dict[Status, set[Action]] = {
    Status.WAITING: {
        Action.AGREE,
        Action.SHARE_SAFETY_PLAN,
        Action.SET_MEDIA,
        Action.NOTE,
        Action.HELP,
        Action.SHARE_MEDIA_KEY,
    },
    Status.ADMITTED: set(Action),
    Status.LEFT: set(),
    Status.REMOVED: set(),
}


def test_expected_table_names_every_action_and_every_status() -> None:
    assert set(EXPECTED) == set(Action)
    assert set(EXPECTED_BY_STATUS) == set(Status)
    assert set(PERMISSIONS) == set(Role)


@pytest.mark.parametrize(("action", "role"), [(a, r) for a in Action for r in Role])
def test_role_table(action: Action, role: Role) -> None:
    assert can(role, action) is (role in EXPECTED[action])


@pytest.mark.parametrize(("action", "status"), [(a, st) for a in Action for st in Status])
def test_status_table(action: Action, status: Status) -> None:
    """A role that may act still cannot while waiting (except the four) or after leaving."""
    role = M if M in EXPECTED[action] else F
    actor = Participant(id="p", name="P", role=role, status=status)
    if action in EXPECTED_BY_STATUS[status]:
        assert check(actor, action) is actor
    else:
        with pytest.raises(Forbidden):
            check(actor, action)
    assert (action in STATUS_ALLOWS[status]) is (action in EXPECTED_BY_STATUS[status])


def test_unknown_actor_is_forbidden() -> None:
    with pytest.raises(Forbidden):
        check(None, Action.SET_MEDIA)


# One command per facilitator action, each naming a real target so only the role can refuse it.
FACILITATOR_COMMANDS: dict[Action, c.Command] = {
    Action.ADMIT: c.Admit("dan"),
    Action.ADMIT_ALL: c.AdmitAll(),
    Action.DENY: c.Deny("dan"),
    Action.REMOVE: c.Remove("bob"),
    Action.SEND_TO_LOBBY: c.SendToLobby("bob"),
    Action.LOCK: c.Lock(),
    Action.UNLOCK: c.Unlock(),
    Action.SET_AGENDA: c.SetAgenda(()),
    Action.NEXT_PHASE: c.NextPhase(),
    Action.SET_PHASE: c.SetPhase(1),
    Action.GRANT_FLOOR: c.GrantFloor("ann"),
    Action.NEXT_FLOOR: c.NextFloor(),
    Action.START_GOAROUND: c.StartGoAround(),
    Action.STOP_GOAROUND: c.StopGoAround(),
    Action.MUTE: c.Mute("bob"),
    Action.ALLOW_UNMUTE: c.AllowUnmute("bob"),
    Action.ASK_SAFETY_PLAN: c.AskSafetyPlan(),
    Action.ACK_HELP: c.AckHelp("bob"),
    Action.END: c.End(),
    Action.SIDE_START: c.StartSideRoom("bob"),
    Action.SIDE_END: c.EndSideRoom("bob"),
    Action.BREAKOUT_START: c.StartBreakout(5, size=2),
    Action.BREAKOUT_VISIT: c.VisitGroup(0),
    Action.BREAKOUT_LEAVE: c.LeaveGroup(),
    Action.BREAKOUT_MOVE: c.MoveToGroup("bob", 0),
    Action.BREAKOUT_BROADCAST: c.BroadcastToGroups("two minutes left"),
    Action.BREAKOUT_END: c.EndBreakout(),
}


def test_every_facilitator_only_action_has_a_command() -> None:
    # Media negotiation and key relay: wire acts, not controller commands.
    wire_only = {Action.PUBLISH, Action.ANSWER, Action.SHARE_MEDIA_KEY, Action.GRANT_MEDIA_KEY}
    assert set(FACILITATOR_COMMANDS) == {a for a, roles in EXPECTED.items() if roles == LEADS} - wire_only


@pytest.mark.parametrize("action", list(FACILITATOR_COMMANDS))
def test_member_cannot_do_facilitator_action(action: Action) -> None:
    s = live_group()
    connect(s, "dan", now=5.0)  # someone waiting, for admit and deny
    apply(s, "ann", c.RaiseHand(), 6.0)
    before = snapshot(s)
    with pytest.raises(Forbidden):
        apply(s, "ann", FACILITATOR_COMMANDS[action], 7.0)
    assert snapshot(s) == before


@pytest.mark.parametrize("action", list(FACILITATOR_COMMANDS))
def test_waiting_member_cannot_do_facilitator_action(action: Action) -> None:
    s = live_group()
    connect(s, "dan", now=5.0)
    before = snapshot(s)
    with pytest.raises(Forbidden):
        apply(s, "dan", FACILITATOR_COMMANDS[action], 7.0)
    assert snapshot(s) == before


def test_member_cannot_grant_floor_to_themselves() -> None:
    s = live_group()
    with pytest.raises(Forbidden):
        apply(s, "ann", c.GrantFloor("ann"), 5.0)
    assert s.floor is None


MEMBER_COMMANDS: dict[Action, c.Command] = {
    Action.AGREE: c.Agree(),
    Action.SET_MEDIA: c.SetMedia(audio=False, video=True),
    Action.SET_RECEIVE: c.SetReceive(video=False),
    Action.NOTE: c.Note(FAC, "may I come in a minute late?"),
    Action.HELP: c.Help(),
    Action.SHARE_SAFETY_PLAN: c.ShareSafetyPlan("home, Leeds", "Sam, 07700 900123"),
    Action.RAISE_HAND: c.RaiseHand(),
    Action.LOWER_HAND: c.LowerHand(),
    Action.RELEASE_FLOOR: c.ReleaseFloor(),
    Action.PASS_TURN: c.PassTurn(),
    Action.NOD: c.Nod(),
}


@pytest.mark.parametrize("action", list(MEMBER_COMMANDS))
def test_waiting_member_may_only_agree_share_a_plan_set_devices_write_and_ask_for_help(action: Action) -> None:
    s = live_group()
    connect(s, "dan", now=5.0)
    apply(s, FAC, c.GrantFloor("ann"), 5.0)
    if action in EXPECTED_BY_STATUS[Status.WAITING]:
        apply(s, "dan", MEMBER_COMMANDS[action], 6.0)
        assert s.participants["dan"].status is Status.WAITING
    else:
        before = snapshot(s)
        with pytest.raises(Forbidden):
            apply(s, "dan", MEMBER_COMMANDS[action], 6.0)
        assert snapshot(s) == before


@pytest.mark.parametrize("action", list(MEMBER_COMMANDS))
def test_participant_who_left_can_do_nothing(action: Action) -> None:
    s = live_group()
    apply(s, "ann", c.Disconnect(), 5.0)
    tick(s, 5.0 + s.grace_seconds)
    before = snapshot(s)
    with pytest.raises(Forbidden):
        apply(s, "ann", MEMBER_COMMANDS[action], 100.0)
    assert snapshot(s) == before
