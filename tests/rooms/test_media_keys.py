"""Who distributes the media key, and to whom a wrapped key may go (``rooms.media_keys``)."""

from __future__ import annotations

import pytest

from rooms import commands as c
from rooms.codec import session_from_dict, session_to_dict
from rooms.controller import apply
from rooms.errors import Conflict, NotFound
from rooms.media_keys import check_grant, key_holder
from rooms.model import E2eeMode
from tests.rooms.helpers import COFAC, FAC, connect, live_group


def test_the_facilitator_holds_the_key_before_a_cofacilitator_and_keeps_it_while_present() -> None:
    s = live_group(cofacilitator=True)
    assert key_holder(s, {FAC, COFAC, "ann"}, None) == FAC
    assert key_holder(s, {COFAC, "ann"}, None) == COFAC  # the facilitator has shared no key (yet)
    assert key_holder(s, {FAC, COFAC}, COFAC) == COFAC  # a holder keeps it: no needless rekey
    assert key_holder(s, {"ann", "bob"}, None) is None  # members never hold it


def test_the_key_passes_on_when_its_holder_drops_and_to_nobody_without_a_facilitator() -> None:
    s = live_group(cofacilitator=True)
    apply(s, FAC, c.Disconnect(), 5.0)
    assert key_holder(s, {FAC, COFAC}, FAC) == COFAC
    apply(s, COFAC, c.Disconnect(), 6.0)
    assert key_holder(s, {FAC, COFAC}, COFAC) is None
    connect(s, FAC, s.participants[FAC].role, now=7.0)  # back: the next facilitator to arrive takes over
    assert key_holder(s, {FAC, COFAC}, None) == FAC


def test_grants_go_to_admitted_participants_only() -> None:
    s = live_group()
    assert check_grant(s, "ann").id == "ann"
    connect(s, "dan", now=9.0)  # waiting
    with pytest.raises(Conflict):
        check_grant(s, "dan")
    apply(s, FAC, c.Remove("bob", ""), 10.0)
    with pytest.raises(Conflict):
        check_grant(s, "bob")
    with pytest.raises(NotFound):
        check_grant(s, "nobody")


def test_the_e2ee_setting_survives_the_store_and_defaults_to_preferred() -> None:
    s = live_group(e2ee=E2eeMode.REQUIRED)
    assert session_from_dict(session_to_dict(s)).e2ee is E2eeMode.REQUIRED
    data = session_to_dict(live_group())
    assert data["e2ee"] == "preferred"
    del data["e2ee"]  # a session stored before the setting existed
    assert session_from_dict(data).e2ee is E2eeMode.PREFERRED
