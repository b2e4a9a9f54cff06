"""Who distributes the media key, and to whom a wrapped key may go (``rooms.media_keys``)."""

from __future__ import annotations

import pytest

from rooms import commands as c
from rooms.codec import session_from_dict, session_to_dict
from rooms.controller import apply
from rooms.errors import Conflict, NotFound
from rooms.media_keys import (
    EncryptionRequired,
    check_grant,
    check_media,
    clear_recipients,
    clear_without_holder,
    counted_unable,
    key_holder,
)
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


def test_only_connected_clients_that_cannot_encrypt_hold_the_session_back() -> None:
    s = live_group()
    assert counted_unable(s, {"ann", "bob"}) == {"ann", "bob"}
    apply(s, "ann", c.Disconnect(), 5.0)  # away: receives nothing, says again what it can when back
    assert counted_unable(s, {"ann", "bob", "nobody"}) == {"bob"}


def test_a_preferred_session_goes_clear_without_a_holder_only_when_no_facilitator_present_can_encrypt() -> None:
    s = live_group(cofacilitator=True)
    members = {"ann", "bob", "cat"}
    assert clear_without_holder(s, members, {FAC, COFAC})
    # A co-facilitator whose key is still on its way (neither keyed nor unable) is waited for.
    assert not clear_without_holder(s, members, {FAC})
    # One who can encrypt holds the key: its grants decide, clear or not.
    assert not clear_without_holder(s, members | {COFAC}, {FAC})
    apply(s, FAC, c.Disconnect(), 5.0)
    apply(s, COFAC, c.Disconnect(), 5.0)
    assert not clear_without_holder(s, members, {FAC, COFAC}), "no facilitator present: the members wait"


def test_required_and_off_sessions_never_go_clear_for_want_of_a_holder() -> None:
    for mode in (E2eeMode.REQUIRED, E2eeMode.OFF):
        assert not clear_without_holder(live_group(e2ee=mode), {"ann", "bob", "cat"}, {FAC})


def test_those_told_to_go_clear_are_the_connected_admitted_participants_with_a_key() -> None:
    s = live_group()
    connect(s, "dan", now=9.0)  # waiting
    apply(s, "cat", c.Disconnect(), 10.0)
    assert clear_recipients(s, {"ann", "bob", "cat", "dan"}) == {"ann", "bob"}
    assert clear_recipients(s, {"ann"}) == {"ann"}  # bob never shared a key: he sends in the clear anyway


def test_a_client_that_cannot_encrypt_may_not_send_media_into_a_required_session() -> None:
    required = live_group(e2ee=E2eeMode.REQUIRED)
    with pytest.raises(EncryptionRequired) as refused:
        check_media(required, "ann", {"ann"})
    assert refused.value.code == "forbidden"
    check_media(required, "bob", {"ann"})  # one that can (or whose key is on its way) may
    for mode in (E2eeMode.PREFERRED, E2eeMode.OFF):
        check_media(live_group(e2ee=mode), "ann", {"ann"})
