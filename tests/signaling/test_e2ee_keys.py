"""End-to-end encryption's key relay over real Socket.IO: public keys to the facilitators, wrapped
media keys to admitted participants only, and the key holder handed on when the holder drops."""

from __future__ import annotations

import pytest

from tests.harness import Client, Harness


def jwk(n: int) -> dict[str, str]:
    """A distinct, well-formed public key JWK (the server relays it and never uses it)."""
    coordinate = (f"{n:02d}" * 22)[:43]
    return {"kty": "EC", "crv": "P-256", "x": coordinate, "y": coordinate[::-1]}


WRAPPED = "w" * 59


async def test_the_session_says_its_e2ee_setting_preferred_by_default(server: Harness) -> None:
    default = await server.create_session()
    required = await server.create_session(e2ee="required")
    f1 = await server.connect(default["facilitator_token"])
    f2 = await server.connect(required["facilitator_token"])
    assert f1.last("welcome")["session"]["e2ee"] == "preferred"
    assert f2.last("welcome")["session"]["e2ee"] == "required"
    async with server.http.post(
        f"{server.url}/api/sessions", json={"title": "x", "e2ee": "sometimes"}, headers=server.auth
    ) as r:
        assert r.status == 400


async def admitted(server: Harness, session_id: str, lead: Client, name: str) -> Client:
    member = await server.join(session_id, name)
    assert (await member.ask("agree"))["ok"]
    assert (await lead.ask("admit", {"id": member.id}))["ok"]
    return member


async def test_public_keys_reach_the_facilitators_and_grants_only_admitted_members(server: Harness) -> None:
    session = await server.create_session(e2ee="required")
    lead = await server.connect(session["facilitator_token"])
    ana = await admitted(server, session["id"], lead, "Ana")
    ben = await server.join(session["id"], "Ben")  # waiting
    assert (await lead.ask("e2ee.key", {"jwk": jwk(1)}))["ok"]
    assert (await ana.ask("e2ee.key", {"jwk": jwk(2)}))["ok"]
    assert (await ben.ask("e2ee.key", {"jwk": None}))["ok"]  # a browser that cannot encrypt says so
    keys = await lead.wait_for("e2ee.keys", lambda k: len(k["keys"]) == 3)
    assert keys == {"holder": lead.id, "keys": {lead.id: jwk(1), ana.id: jwk(2), ben.id: None}, "from": ben.id}
    assert not ana.received["e2ee.keys"], "members are not told anyone's keys"

    # A grant to someone waiting is refused as a whole: the admitted member in it gets nothing either.
    grants = [{"to": ana.id, "wrapped": WRAPPED}, {"to": ben.id, "wrapped": WRAPPED}]
    refused = await lead.ask("e2ee.grant", {"key_id": 5, "grants": grants})
    assert refused["error"]["code"] == "conflict"
    assert (await ana.ask("e2ee.grant", {"key_id": 5, "grants": grants[:1]}))["error"]["code"] == "forbidden"
    nobody = {"key_id": 5, "grants": [{"to": "m-nobody", "wrapped": WRAPPED}]}
    assert (await lead.ask("e2ee.grant", nobody))["error"]["code"] == "not_found"
    mixed = {"key_id": 5, "grants": [{"to": ana.id, "wrapped": None}]}
    assert (await lead.ask("e2ee.grant", mixed))["error"]["code"] == "invalid"

    assert (await lead.ask("e2ee.grant", {"key_id": 6, "grants": grants[:1]}))["ok"]
    grant = await ana.wait_for("e2ee.grant")
    assert grant == {"from": lead.id, "from_key": jwk(1), "key_id": 6, "wrapped": WRAPPED}
    assert [g["key_id"] for g in ana.received["e2ee.grant"]] == [6]
    assert not ben.received["e2ee.grant"]


async def test_a_facilitator_must_send_a_public_key_before_granting(server: Harness) -> None:
    session = await server.create_session()
    lead = await server.connect(session["facilitator_token"])
    ana = await admitted(server, session["id"], lead, "Ana")
    reply = await lead.ask("e2ee.grant", {"key_id": 1, "grants": [{"to": ana.id, "wrapped": WRAPPED}]})
    assert reply["error"]["code"] == "conflict"
    assert not ana.received["e2ee.grant"]


async def test_the_key_holder_passes_to_a_cofacilitator_when_the_holder_drops(server: Harness) -> None:
    session = await server.create_session()
    lead = await server.connect(session["facilitator_token"])
    co = await server.join(session["id"], "Co", role="cofacilitator")
    ana = await admitted(server, session["id"], lead, "Ana")
    assert (await co.ask("e2ee.key", {"jwk": jwk(3)}))["ok"]
    assert (await lead.ask("e2ee.key", {"jwk": jwk(1)}))["ok"]
    assert (await ana.ask("e2ee.key", {"jwk": jwk(2)}))["ok"]
    # The co-facilitator shared a key first, so holds; the lead facilitator arriving does not take over.
    await co.wait_for("e2ee.keys", lambda k: len(k["keys"]) == 3)
    assert co.last("e2ee.keys")["holder"] == co.id
    await co.close()
    handed = await lead.wait_for("e2ee.keys", lambda k: k["holder"] == lead.id)
    assert co.id in handed["keys"]  # dropped, not gone: its seat (and key) wait out the grace period
    # The new holder grants afresh; the member receives it from the new holder.
    assert (await lead.ask("e2ee.grant", {"key_id": 9, "grants": [{"to": ana.id, "wrapped": WRAPPED}]}))["ok"]
    grant = await ana.wait_for("e2ee.grant", lambda g: g["key_id"] == 9)
    assert grant["from"] == lead.id


@pytest.mark.parametrize("act", ["remove", "lobby.send"])
async def test_a_member_removed_or_sent_back_cannot_be_granted(server: Harness, act: str) -> None:
    session = await server.create_session()
    lead = await server.connect(session["facilitator_token"])
    ana = await admitted(server, session["id"], lead, "Ana")
    assert (await lead.ask("e2ee.key", {"jwk": jwk(1)}))["ok"]
    assert (await ana.ask("e2ee.key", {"jwk": jwk(2)}))["ok"]
    assert (await lead.ask(act, {"id": ana.id}))["ok"]
    reply = await lead.ask("e2ee.grant", {"key_id": 2, "grants": [{"to": ana.id, "wrapped": WRAPPED}]})
    assert reply["error"]["code"] == "conflict"
    if act == "remove":
        keys = await lead.wait_for("e2ee.keys", lambda k: ana.id not in k["keys"], since=0)
        assert keys["holder"] == lead.id
