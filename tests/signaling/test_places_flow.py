"""Side rooms and breakouts over real Socket.IO: each place's emits reach that place (and the
facilitators) and nobody else; the main room sees "stepped out" and no more."""

from __future__ import annotations

import json
from typing import Any

from server.keys import HUB
from signaling import protocol as wire
from tests.harness import Client, Harness

MAIN_VIEW = {"kind": "main", "group": None}


def presence(state: dict[str, Any]) -> dict[str, str]:
    return {p["id"]: p.get("presence", "") for p in state["participants"]}


def kind(state: dict[str, Any]) -> str | None:
    """The kind of place a member's view is of (a waiting member's view is of none)."""
    place = state.get("place")
    return place["kind"] if place else None


def here(state: dict[str, Any]) -> set[str]:
    return {pid for pid, where in presence(state).items() if where == "here"}


async def room(server: Harness, names: tuple[str, ...]) -> tuple[str, Client, Client, list[Client]]:
    """A live session: facilitator, co-facilitator and the named members, all admitted."""
    session = await server.create_session(requires_agreement=False)
    facilitator = await server.connect(session["facilitator_token"])
    co = await server.join(session["id"], "Co", role="cofacilitator")
    members = [await server.join(session["id"], name) for name in names]
    for m in members:
        assert (await facilitator.ask("admit", {"id": m.id}))["ok"]
    await facilitator.state(lambda s: sum(p["status"] == "admitted" for p in s["participants"]) == len(names) + 2)
    return session["id"], facilitator, co, members


async def test_a_side_room_is_the_twos_alone_and_the_main_room_sees_stepped_out(server: Harness) -> None:
    session_id, facilitator, co, (ana, ben, cleo) = await room(server, ("Ana", "Ben", "Cleo"))
    assert (await co.ask("side.start", {"id": ana.id}))["ok"]
    aside = await ana.state(lambda s: kind(s) == "side")
    assert here(aside) == {ana.id, co.id}
    assert {presence(aside)[m.id] for m in (ben, cleo)} == {"elsewhere"}
    main = await ben.state(lambda s: presence(s).get(ana.id) == "stepped_out")
    assert presence(main)[co.id] == "stepped_out" and here(main) == {facilitator.id, ben.id, cleo.id}
    assert "side:" not in json.dumps(main) and "side_rooms" not in main
    leads = await facilitator.state(lambda s: s["side_rooms"])
    assert leads["side_rooms"][0]["member"] == ana.id and leads["side_rooms"][0]["lead"] == co.id
    policy = server.app[HUB].live[session_id].policy
    assert policy is not None and policy.places == {ana.id: f"side:{ana.id}", co.id: f"side:{ana.id}"}
    assert policy.hears(co.id, ana.id) and not policy.sees(ben.id, ana.id) and not policy.hears(ana.id, ben.id)
    assert server.app[HUB].places(session_id) == policy.places  # what speaking levels are filtered by

    # The main room goes on; the side room is told of it in its own view, and only in that view.
    assert (await ben.ask("hand.raise"))["ok"]
    await ana.state(lambda s: ben.id in s["queue"] and kind(s) == "side")
    assert (await ana.ask("hand.raise"))["error"]["code"] == "conflict"
    since = ana.count("session.state")
    assert (await co.ask("side.end"))["ok"]
    back = await ana.state(lambda s: s.get("place") == MAIN_VIEW, since=since)
    assert here(back) == {facilitator.id, co.id, ana.id, ben.id, cleo.id}
    for member in (ben, cleo):
        assert all(s.get("place") in (None, MAIN_VIEW) for s in member.received["session.state"])
    assert server.app[HUB].live[session_id].policy.places == {}  # type: ignore[union-attr]


async def test_groups_get_their_own_view_broadcasts_and_warning_and_the_main_room_does_not(server: Harness) -> None:
    _, facilitator, co, members = await room(server, ("Ana", "Ben", "Cleo", "Dev", "Eli"))
    ana, ben, cleo, dev, eli = members
    groups = [[ana.id, ben.id], [cleo.id, dev.id]]
    assert (await facilitator.ask("breakout.start", {"groups": groups, "minutes": 1.02}))["ok"]
    for member, index, pair in ((ana, 0, ben), (cleo, 1, dev)):
        state = await member.state(lambda s, i=index: s.get("place") == {"kind": "group", "group": i})
        wire.SessionStateOut.model_validate(state)
        assert here(state) == {member.id, pair.id} and state["breakout"]["count"] == 2
        assert "group:" not in json.dumps(state)  # nor who is in the other group
    main = await eli.state(lambda s: s["breakout"] is not None)
    assert {presence(main)[m.id] for m in (ana, ben, cleo, dev)} == {"in_group"}
    leads = await facilitator.state(lambda s: s["breakout"] is not None)
    assert [g["members"] for g in leads["breakout"]["groups"]] == groups

    since = ana.count("session.state")
    assert (await co.ask("breakout.visit", {"group": 0, "mode": "listen"}))["ok"]
    visited = await ana.state(lambda s: co.id in here(s), since=since)
    co_entry = next(p for p in visited["participants"] if p["id"] == co.id)
    assert co_entry["listen_only"] is True and co_entry["audible"] is False

    assert (await co.ask("breakout.broadcast", {"text": "Swap roles now"}))["ok"]
    for client in (ana, ben, cleo, dev, facilitator, co):
        line = await client.wait_for("breakout.broadcast")
        wire.BreakoutBroadcastOut.model_validate(line)
        assert line["text"] == "Swap roles now" and line["from"] == co.id and line["name"] == "Co"
    for client in (ana, cleo, facilitator):  # 1.02 minutes: the warning comes after about a second
        wire.BreakoutWarningOut.model_validate(await client.wait_for("breakout.warning"))

    counts = {client.id: client.count("session.state") for client in (ana, ben, cleo, dev)}
    assert (await facilitator.ask("breakout.end"))["ok"]
    for client in (ana, ben, cleo, dev):
        await client.state(lambda s: s.get("place") == MAIN_VIEW, since=counts[client.id])
    await eli.caught_up()
    assert eli.received["breakout.broadcast"] == [] and eli.received["breakout.warning"] == []


async def test_the_groups_come_back_by_themselves_when_the_time_is_up(server: Harness) -> None:
    _, facilitator, co, (ana, ben) = await room(server, ("Ana", "Ben"))
    assert (await facilitator.ask("breakout.start", {"size": 2, "minutes": 0.02}))["ok"]
    await ana.state(lambda s: kind(s) == "group")
    since = ana.count("session.state")
    back = await ana.state(lambda s: s.get("place") == MAIN_VIEW and s["breakout"] is None, since=since)
    assert here(back) == {facilitator.id, co.id, ana.id, ben.id}


async def test_a_pairs_phase_sends_the_main_room_into_pairs_and_the_next_brings_it_back(server: Harness) -> None:
    _, facilitator, _, (ana, ben, cleo) = await room(server, ("Ana", "Ben", "Cleo"))
    agenda = [
        {"name": "teach", "minutes": 10, "floor_mode": "hands"},
        {"name": "practise in pairs", "minutes": 5, "floor_mode": "pairs"},
        {"name": "share back", "minutes": 10, "floor_mode": "hands"},
    ]
    assert (await facilitator.ask("agenda.set", {"phases": agenda}))["ok"]
    assert (await facilitator.ask("phase.next"))["ok"]
    leads = await facilitator.state(lambda s: s["breakout"] is not None)
    assert sorted(len(g["members"]) for g in leads["breakout"]["groups"]) == [3]
    assert leads["phase"]["floor_mode"] == "pairs" and leads["breakout"]["minutes"] == 5
    for member in (ana, ben, cleo):
        await member.state(lambda s: s.get("place") == {"kind": "group", "group": 0})
    counts = {client.id: client.count("session.state") for client in (ana, ben, cleo)}
    assert (await facilitator.ask("phase.next"))["ok"]
    for member in (ana, ben, cleo):
        await member.state(lambda s: s.get("place") == MAIN_VIEW, since=counts[member.id])


async def test_a_member_back_within_the_grace_period_is_back_in_their_group(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False)
    facilitator = await server.connect(session["facilitator_token"])
    invites = [await server.invite(session["id"], name) for name in ("Ana", "Ben")]
    ana, ben = [await server.connect(invite["token"]) for invite in invites]
    for m in (ana, ben):
        assert (await facilitator.ask("admit", {"id": m.id}))["ok"]
    assert (await facilitator.ask("breakout.start", {"groups": [[ana.id, ben.id]], "minutes": 10}))["ok"]
    await ana.state(lambda s: kind(s) == "group")
    await ana.close()
    await facilitator.state(lambda s: any(p["id"] == ana.id and not p["connected"] for p in s["participants"]))
    again = await server.connect(invites[0]["token"])
    welcome = again.last("welcome")
    assert welcome["session"]["place"] == {"kind": "group", "group": 0}
    assert here(welcome["session"]) == {ana.id, ben.id}
    assert (await facilitator.ask("breakout.broadcast", {"text": "Back to your partner"}))["ok"]
    assert (await again.wait_for("breakout.broadcast"))["text"] == "Back to your partner"


async def test_the_end_of_the_session_ends_side_rooms_and_breakouts(server: Harness) -> None:
    _, facilitator, co, (ana, ben, cleo) = await room(server, ("Ana", "Ben", "Cleo"))
    assert (await co.ask("side.start", {"id": ana.id}))["ok"]
    assert (await facilitator.ask("breakout.start", {"size": 2, "minutes": 5}))["ok"]
    await ben.state(lambda s: kind(s) == "group")
    assert (await facilitator.ask("end"))["ok"]
    for client in (ana, ben, cleo, co):
        await client.wait_for("session.ended")
