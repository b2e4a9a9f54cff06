"""End-to-end encryption's key relay over real Socket.IO: public keys to the facilitators, wrapped
media keys to admitted participants only, the key holder handed on when the holder drops, and what
clients that cannot encrypt (or never say they take part: no ``auth.e2ee``) do to a session.

Clients here say they take part (``e2ee=True``, as pages do) unless a test is about one that does not.
"""

from __future__ import annotations

import pytest

from tests.harness import Client, Harness, Refused


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


async def admitted(server: Harness, session_id: str, lead: Client, name: str, e2ee: object = True) -> Client:
    member = await server.join(session_id, name, e2ee=e2ee)
    assert (await member.ask("agree"))["ok"]
    assert (await lead.ask("admit", {"id": member.id}))["ok"]
    return member


async def test_public_keys_reach_the_facilitators_and_grants_only_admitted_members(server: Harness) -> None:
    session = await server.create_session(e2ee="required")
    lead = await server.connect(session["facilitator_token"], e2ee=True)
    ana = await admitted(server, session["id"], lead, "Ana")
    ben = await server.join(session["id"], "Ben", e2ee=True)  # waiting
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
    lead = await server.connect(session["facilitator_token"], e2ee=True)
    ana = await admitted(server, session["id"], lead, "Ana")
    reply = await lead.ask("e2ee.grant", {"key_id": 1, "grants": [{"to": ana.id, "wrapped": WRAPPED}]})
    assert reply["error"]["code"] == "conflict"
    assert not ana.received["e2ee.grant"]


async def test_the_key_holder_passes_to_a_cofacilitator_when_the_holder_drops(server: Harness) -> None:
    session = await server.create_session()
    lead = await server.connect(session["facilitator_token"], e2ee=True)
    co = await server.join(session["id"], "Co", role="cofacilitator", e2ee=True)
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
    lead = await server.connect(session["facilitator_token"], e2ee=True)
    ana = await admitted(server, session["id"], lead, "Ana")
    assert (await lead.ask("e2ee.key", {"jwk": jwk(1)}))["ok"]
    assert (await ana.ask("e2ee.key", {"jwk": jwk(2)}))["ok"]
    assert (await lead.ask(act, {"id": ana.id}))["ok"]
    reply = await lead.ask("e2ee.grant", {"key_id": 2, "grants": [{"to": ana.id, "wrapped": WRAPPED}]})
    assert reply["error"]["code"] == "conflict"
    if act == "remove":
        keys = await lead.wait_for("e2ee.keys", lambda k: ana.id not in k["keys"], since=0)
        assert keys["holder"] == lead.id


OFFER = {"sdp": "v=0\r\n", "type": "offer"}


async def test_a_client_that_never_says_it_takes_part_counts_as_one_that_cannot_encrypt(server: Harness) -> None:
    session = await server.create_session(admission="open", requires_agreement=False)
    lead = await server.connect(session["facilitator_token"], e2ee=True)
    assert (await lead.ask("e2ee.key", {"jwk": jwk(1)}))["ok"]
    invite = await server.invite(session["id"], "Oz")
    outside = await server.connect(invite["token"])  # no auth.e2ee: an aiortc or python-socketio client
    counted = await lead.wait_for("e2ee.keys", lambda k: outside.id in k["keys"])
    assert counted == {"holder": lead.id, "keys": {lead.id: jwk(1), outside.id: None}, "from": None}

    seen = lead.count("e2ee.keys")
    await outside.close()  # dropped: it receives nothing, so it holds nobody back
    await lead.wait_for("e2ee.keys", lambda k: k["keys"] == {lead.id: jwk(1)}, since=seen)
    seen = lead.count("e2ee.keys")
    page = await server.connect(invite["token"], e2ee=True)  # back as a page that takes part: waited for
    assert (await page.ask("e2ee.key", {"jwk": jwk(2)}))["ok"]
    await lead.wait_for("e2ee.keys", lambda k: k["from"] == page.id, since=seen)
    announced = lead.received["e2ee.keys"][seen:]
    assert [k["keys"] for k in announced] == [{lead.id: jwk(1), page.id: jwk(2)}], "never counted as unable"


async def test_auth_e2ee_is_a_boolean_and_false_is_the_same_as_absent(server: Harness) -> None:
    session = await server.create_session(admission="open", requires_agreement=False)
    with pytest.raises(Refused) as refused:
        await server.connect(session["facilitator_token"], e2ee="yes")
    assert refused.value.data["code"] == "invalid"
    lead = await server.connect(session["facilitator_token"], e2ee=True)
    assert (await lead.ask("e2ee.key", {"jwk": jwk(1)}))["ok"]
    member = await server.join(session["id"], "Oz", e2ee=False)
    await lead.wait_for("e2ee.keys", lambda k: k["keys"].get(member.id, "absent") is None)


async def test_members_go_clear_while_no_facilitator_present_can_hold_the_key(server: Harness) -> None:
    session = await server.create_session(admission="open", requires_agreement=False)
    lead = await server.connect(session["facilitator_token"])  # an outside client: it never sends a key
    ana = await server.join(session["id"], "Ana", e2ee=True)
    assert (await ana.ask("e2ee.key", {"jwk": jwk(2)}))["ok"]
    assert await ana.wait_for("e2ee.clear") == {"reason": "no_key_holder"}
    ben = await server.join(session["id"], "Ben", e2ee=True)
    assert (await ben.ask("e2ee.key", {"jwk": jwk(3)}))["ok"]  # emits go out before the answer
    assert len(ben.received["e2ee.clear"]) == 1, "told once, when his page had its key pair"
    await ana.caught_up()
    assert len(ana.received["e2ee.clear"]) == 1, "told once"

    # A co-facilitator whose browser encrypts arrives: it holds the key, and its grants decide (clear
    # while the outside facilitator is connected, a key once it is gone).
    co = await server.join(session["id"], "Co", role="cofacilitator", e2ee=True)
    assert (await co.ask("e2ee.key", {"jwk": jwk(4)}))["ok"]
    held = await co.wait_for("e2ee.keys", lambda k: k["from"] == co.id)
    assert held["holder"] == co.id and held["keys"][lead.id] is None
    await lead.close()
    gone = await co.wait_for("e2ee.keys", lambda k: lead.id not in k["keys"])
    assert gone["keys"] == {ana.id: jwk(2), ben.id: jwk(3), co.id: jwk(4)}
    assert (await co.ask("e2ee.grant", {"key_id": 7, "grants": [{"to": ana.id, "wrapped": WRAPPED}]}))["ok"]
    assert (await ana.wait_for("e2ee.grant"))["key_id"] == 7
    await ana.caught_up()
    assert len(ana.received["e2ee.clear"]) == 1

    # The holder drops and the outside facilitator comes back: nobody can hold the key again.
    await co.close()
    await server.connect(session["facilitator_token"])
    assert await ana.wait_for("e2ee.clear", since=1) == {"reason": "no_key_holder"}
    await ben.wait_for("e2ee.clear", since=1)


async def test_a_required_session_never_goes_clear_and_refuses_media_from_who_cannot_encrypt(
    server: Harness,
) -> None:
    session = await server.create_session(e2ee="required", admission="open", requires_agreement=False)
    lead = await server.connect(session["facilitator_token"])  # an outside client
    ana = await server.join(session["id"], "Ana", e2ee=True)
    assert (await ana.ask("e2ee.key", {"jwk": jwk(2)}))["ok"]
    old = await server.join(session["id"], "Old", e2ee=True)
    assert (await old.ask("e2ee.key", {"jwk": None}))["ok"]  # a browser that cannot encrypt says so
    for client in (lead, old):
        refused = await client.ask("rtc.publish", OFFER)
        assert refused["error"]["code"] == "forbidden", refused
        assert "requires end-to-end encryption" in refused["error"]["message"]
    # One that can goes on to the media engine (which this signaling-only node does not run).
    assert (await ana.ask("rtc.publish", OFFER))["error"]["message"] == "media is not enabled on this node"
    await ana.caught_up()
    assert not ana.received["e2ee.clear"]
