"""A whole group session over real Socket.IO: a facilitator and four members, no media."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.harness import Client, Harness, Refused


def holder(state: dict[str, Any]) -> str | None:
    floor = state["floor"]
    return floor["holder"] if floor else None


def ids(state: dict[str, Any]) -> set[str]:
    return {p["id"] for p in state["participants"]}


async def admitted_group(server: Harness, n: int = 4) -> tuple[dict[str, Any], Client, list[Client]]:
    session = await server.create_session(title="Tuesday group", requires_agreement=True)
    facilitator = await server.connect(session["facilitator_token"])
    members = []
    for name in ("Ana", "Ben", "Cleo", "Dev")[:n]:
        member = await server.join(session["id"], name)
        assert (await member.ask("agree"))["ok"]
        assert (await facilitator.ask("admit", {"id": member.id}))["ok"]
        members.append(member)
    await facilitator.state(lambda s: len(s["participants"]) == n + 1)
    return session, facilitator, members


async def test_lobby_agreement_and_admission(server: Harness) -> None:
    session = await server.create_session(requires_agreement=True)
    facilitator = await server.connect(session["facilitator_token"])
    ana = await server.join(session["id"], "Ana")
    welcome = ana.last("welcome")
    assert welcome["you"]["status"] == "waiting"
    assert welcome["session"]["participants"] == []  # a waiting member never sees the roster

    refused = await facilitator.ask("admit", {"id": ana.id})
    assert refused["error"]["code"] == "conflict"  # not yet agreed
    assert (await ana.ask("agree"))["ok"]
    await facilitator.wait_for("lobby", lambda lobby: lobby["waiting"] and lobby["waiting"][0]["agreed"])
    assert (await facilitator.ask("admit", {"id": ana.id}))["ok"]
    state = await ana.state(lambda s: ana.id in ids(s))
    assert {p["name"] for p in state["participants"]} == {"Facilitator", "Ana"}
    lobby = await facilitator.wait_for("lobby", lambda lobby: lobby["waiting"] == [])
    assert lobby == {"waiting": []}


async def test_lock_blocks_admission_and_deny_sends_away(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False)
    facilitator = await server.connect(session["facilitator_token"])
    assert (await facilitator.ask("lock"))["ok"]
    ben = await server.join(session["id"], "Ben")
    assert (await facilitator.ask("admit", {"id": ben.id}))["error"]["code"] == "conflict"
    assert (await facilitator.ask("deny", {"id": ben.id}))["ok"]
    removed = await ben.wait_for("removed")
    assert removed == {"reason": "denied"}


async def test_open_admission_lets_members_in_after_agreeing(server: Harness) -> None:
    session = await server.create_session(admission="open", requires_agreement=True)
    facilitator = await server.connect(session["facilitator_token"])
    cleo = await server.join(session["id"], "Cleo")
    assert cleo.last("welcome")["you"]["status"] == "waiting"
    assert (await cleo.ask("agree"))["ok"]
    await facilitator.state(lambda s: cleo.id in ids(s))


async def test_go_around_with_a_pass_and_a_timed_out_turn(server: Harness) -> None:
    _, facilitator, members = await admitted_group(server)
    ana, ben, cleo, dev = members
    started = await facilitator.ask("goaround.start", {"turn_seconds": 0.4})
    assert started["ok"]
    state = await ana.state(lambda s: s["go_around"] is not None)
    assert state["go_around"]["order"] == [m.id for m in members]
    assert holder(state) == ana.id
    assert (await ben.ask("turn.pass"))["error"]["code"] == "conflict"  # not Ben's turn
    assert (await ana.ask("turn.pass"))["ok"]
    await ana.state(lambda s: holder(s) == ben.id)
    # Ben says nothing: the turn times out by itself and Cleo gets the floor.
    await ana.state(lambda s: holder(s) == cleo.id, timeout=3)
    assert (await facilitator.ask("goaround.stop"))["ok"]
    final = await dev.state(lambda s: s["go_around"] is None)
    assert holder(final) is None


@pytest.mark.parametrize("mode", ["open", "hands", "strict"])
async def test_hands_and_floor_in_each_floor_mode(server: Harness, mode: str) -> None:
    _session, facilitator, members = await admitted_group(server, n=3)
    ana, ben, cleo = members
    agenda = [{"name": "one", "minutes": 10, "floor_mode": "open"}, {"name": "two", "minutes": 5, "floor_mode": mode}]
    assert (await facilitator.ask("agenda.set", {"phases": agenda}))["ok"]
    assert (await facilitator.ask("phase.next"))["ok"]
    await ana.state(lambda s: s["phase"]["floor_mode"] == mode)
    assert (await ben.ask("hand.raise"))["ok"]
    assert (await cleo.ask("hand.raise"))["ok"]
    state = await ana.state(lambda s: s["queue"] == [ben.id, cleo.id])
    assert [p["hand_raised"] for p in state["participants"] if p["id"] in (ben.id, cleo.id)] == [True, True]
    assert (await ana.ask("floor.next"))["error"]["code"] == "forbidden"
    assert (await facilitator.ask("floor.next"))["ok"]
    state = await ana.state(lambda s: holder(s) == ben.id)
    assert state["queue"] == [cleo.id]
    audible = {p["id"]: p["audible"] for p in state["participants"]}
    if mode == "strict":
        assert audible == {facilitator.id: True, ana.id: False, ben.id: True, cleo.id: False}
    else:
        assert all(audible.values())
    assert (await ben.ask("hand.raise"))["error"]["code"] == "conflict"  # the holder
    assert (await ben.ask("floor.release"))["ok"]
    assert (await facilitator.ask("floor.grant", {"id": cleo.id, "turn_seconds": 60}))["ok"]
    state = await ben.state(lambda s: holder(s) == cleo.id)
    assert state["floor"]["ends_at"] is not None and state["queue"] == []


async def test_phase_change_reaches_everyone_with_its_time(server: Harness) -> None:
    _, facilitator, members = await admitted_group(server, n=2)
    assert (await facilitator.ask("phase.set", {"index": 2}))["ok"]
    for client in (facilitator, *members):
        state = await client.state(lambda s: s["phase"]["index"] == 2)
        assert state["phase"]["name"] == "skill-building"
        assert 0 < state["phase"]["remaining"] <= 20 * 60
    assert (await facilitator.ask("phase.set", {"index": 9}))["error"]["code"] == "not_found"


async def test_note_and_help_reach_only_their_addressees(server: Harness) -> None:
    session, facilitator, members = await admitted_group(server, n=3)
    ana, ben, cleo = members
    cofacilitator = await server.join(session["id"], "Co", role="cofacilitator")
    assert (await facilitator.ask("note", {"to": ana.id, "text": "How are you doing?"}))["ok"]
    note = {"from": facilitator.id, "text": "How are you doing?", "name": "Facilitator", "role": "facilitator"}
    assert await ana.wait_for("note") == note
    assert (await ben.ask("note", {"to": cleo.id, "text": "hi"}))["error"]["code"] == "forbidden"
    assert (await ben.ask("note", {"to": facilitator.id, "text": "I need a minute"}))["ok"]
    assert (await facilitator.wait_for("note"))["from"] == ben.id
    assert (await cleo.ask("help"))["ok"]
    assert (await facilitator.wait_for("help"))["from"] == cleo.id
    assert (await cofacilitator.wait_for("help"))["from"] == cleo.id
    for client in (*members, cofacilitator):
        await client.caught_up()
    assert ben.received["note"] == [] and cleo.received["note"] == []
    assert all(m.received["help"] == [] for m in members)
    assert cofacilitator.received["note"] == []


async def test_help_acknowledged_reaches_the_member_and_every_facilitator_only(server: Harness) -> None:
    session, facilitator, members = await admitted_group(server, n=2)
    ana, ben = members
    cofacilitator = await server.join(session["id"], "Co", role="cofacilitator")
    assert (await ana.ask("help"))["ok"]
    open_request = await cofacilitator.state(lambda s: any(p.get("help_since") for p in s["participants"]))
    assert [p["id"] for p in open_request["participants"] if p.get("help_since")] == [ana.id]
    assert (await cofacilitator.ask("help.ack", {"id": ana.id}))["ok"]
    for who in (ana, facilitator, cofacilitator):
        ack = await who.wait_for("help.acknowledged")
        assert ack["id"] == ana.id and ack["by"] == cofacilitator.id and ack["name"] == "Co"
    await facilitator.state(lambda s: not any(p.get("help_since") for p in s["participants"]))
    await ben.caught_up()
    assert ben.received["help.acknowledged"] == []
    assert all("help_since" not in p for p in ben.last("session.state")["participants"])


async def test_safety_plan_reaches_only_the_facilitators_and_gates_admission(server: Harness) -> None:
    session = await server.create_session(requires_agreement=True, requires_safety_plan=True)
    facilitator = await server.connect(session["facilitator_token"])
    cofacilitator = await server.join(session["id"], "Co", role="cofacilitator")
    ana = await server.join(session["id"], "Ana")
    assert ana.last("welcome")["session"]["requires_safety_plan"] is True
    assert (await ana.ask("agree"))["ok"]
    assert (await facilitator.ask("admit", {"id": ana.id}))["error"]["code"] == "conflict"
    plan = {"location": "home, 4 Elm Street", "contact": "Jo 07700 900321", "callback": "my mobile 07700 900654"}
    assert (await ana.ask("safety.share", plan))["ok"]
    for lead in (facilitator, cofacilitator):
        shared = await lead.wait_for("safety.shared")
        assert shared["from"] == ana.id and shared["location"] == plan["location"]
        assert shared["contact"] == plan["contact"] and shared["callback"] == plan["callback"]
    await facilitator.wait_for("lobby", lambda lobby: lobby["waiting"] and lobby["waiting"][0]["safety_shared"])
    assert (await facilitator.ask("admit", {"id": ana.id}))["ok"]
    ben = await server.join(session["id"], "Ben")
    assert (await ben.ask("safety.share", {"location": " ", "contact": "x"}))["error"]["code"] == "invalid"
    assert (await ben.ask("safety.share", {"location": "x" * 201, "contact": "x"}))["error"]["code"] == "invalid"
    too_long = {"location": "x", "contact": "x", "callback": "1" * 201}
    assert (await ben.ask("safety.share", too_long))["error"]["code"] == "invalid"
    assert (await ben.ask("safety.ask", {}))["error"]["code"] == "forbidden"
    assert (await cofacilitator.ask("safety.ask", {"id": ana.id}))["ok"]
    assert await ana.wait_for("safety.asked") == {}
    await ana.caught_up()
    await ben.caught_up()
    assert ana.received["safety.shared"] == [] and ben.received["safety.shared"] == []
    assert ben.received["safety.asked"] == []
    state = await facilitator.state(lambda s: ana.id in ids(s))
    assert next(p for p in state["participants"] if p["id"] == ana.id)["safety_shared"] is True
    assert all("safety_shared" not in p for p in (await ana.state(lambda s: ana.id in ids(s)))["participants"])


async def test_removed_member_cannot_reconnect_with_its_token(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False)
    facilitator = await server.connect(session["facilitator_token"])
    invite = await server.invite(session["id"], "Dev")
    dev = await server.connect(invite["token"])
    assert (await facilitator.ask("admit", {"id": dev.id}))["ok"]
    assert (await facilitator.ask("remove", {"id": dev.id, "reason": "agreement"}))["ok"]
    assert await dev.wait_for("removed") == {"reason": "agreement"}
    for _ in range(100):
        if not dev.sio.connected:
            break
        await asyncio.sleep(0.02)
    assert not dev.sio.connected
    with pytest.raises(Refused) as refused:
        await server.connect(invite["token"])
    assert refused.value.data["code"] == "forbidden"  # the page says "removed", not "link expired"
    state = await facilitator.state(lambda s: any(p["status"] == "removed" for p in s["participants"]))
    assert [p["id"] for p in state["participants"] if p["status"] == "removed"] == [dev.id]


async def test_nod_reaches_the_speaker_and_is_rate_limited(server: Harness) -> None:
    _, facilitator, members = await admitted_group(server, n=2)
    ana, ben = members
    assert (await facilitator.ask("floor.grant", {"id": ana.id}))["ok"]
    await ben.state(lambda s: holder(s) == ana.id)
    assert (await ben.ask("nod"))["ok"]
    assert await ana.wait_for("nod") == {"from": ben.id}
    assert (await ben.ask("nod"))["error"]["code"] == "rate_limited"


async def test_end_reaches_everyone_and_refuses_everything_after(server: Harness) -> None:
    session, facilitator, members = await admitted_group(server, n=2)
    assert (await members[0].ask("end"))["error"]["code"] == "forbidden"
    assert (await facilitator.ask("end"))["ok"]
    for client in (facilitator, *members):
        assert "at" in await client.wait_for("session.ended")
    with pytest.raises(Refused) as refused:
        await server.connect(session["facilitator_token"])
    assert refused.value.data["code"] in ("conflict", "not_found")
