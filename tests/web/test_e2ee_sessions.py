"""End-to-end encryption's settings and hand-overs in Chromium.

- The facilitator holding the key drops: the co-facilitator takes over, makes a new key, and the
  member decodes on under it.
- A browser that cannot encrypt (Chromium with its encoded-transform APIs taken away before the page
  loads, as an older browser lacks them): under ``required`` it waits with a message and sends
  nothing; under ``preferred`` the session goes in the clear, and every page says so.
- A member sent back to the waiting room gets no new key, and the next one when let in again.
- A member who missed a new key while reconnecting is sent it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.web.conftest import make_person
from tests.web.hearth_process import HearthServer
from tests.web.people import LIVE_JS, Person, axe_clean

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# What a browser without encoded transforms looks like to the page (run before any page script).
NO_TRANSFORMS_JS = """
delete window.RTCRtpScriptTransform;
if (window.RTCRtpSender) delete RTCRtpSender.prototype.createEncodedStreams;
"""

Factory = Callable[..., Person]


@pytest.fixture
def people(browser: Browser) -> Iterator[Factory]:
    made: list[Person] = []

    def make(name: str, url: str, *, can_encrypt: bool = True) -> Person:
        person = make_person(browser, name, url)
        if not can_encrypt:
            person.context.add_init_script(NO_TRANSFORMS_JS)
        made.append(person)
        return person

    yield make
    for person in made:
        person.close()


def enter(person: Person) -> None:
    person.open()
    person.join()


def live(viewer: Person, name: str) -> None:
    """30 more frames from `name` than the page had decoded so far, then the usual liveness check:
    after a change of key the picture may pause while the decoder waits for a keyframe."""
    seen = viewer.video_of(name)
    viewer.page.wait_for_function(LIVE_JS, arg=[name, (seen["frames"] if seen else 0) + 30], timeout=30_000)
    viewer.wait_video_live(name)


def test_the_cofacilitator_takes_over_the_key_when_the_holder_drops(hearth: HearthServer, people: Factory) -> None:
    created = hearth.create_session("Hand-over", requires_agreement=False, admission="open", e2ee="required")
    lead = people("Facilitator", created["facilitator_url"])
    co = people("Co", hearth.invite(created["id"], "Co", role="cofacilitator")["url"])
    alex = people("Alex", hearth.invite(created["id"], "Alex")["url"])
    for person in (lead, co, alex):
        enter(person)
    lead_id = lead.page.evaluate("() => hearth.you.id")
    alex.page.wait_for_function("() => hearth.client.e2ee.status === 'encrypted'")
    co.page.wait_for_function("(id) => hearth.client.e2ee.holder === id", arg=lead_id)
    live(alex, "Co")
    first = alex.page.evaluate("() => hearth.client.e2ee.keyId")

    lead.close()  # the key holder's page is gone
    co_id = co.page.evaluate("() => hearth.you.id")
    co.page.wait_for_function("(id) => hearth.client.e2ee.holder === id", arg=co_id)
    fresh = "(old) => hearth.client.e2ee.keyId !== old && hearth.client.e2ee.keyId"
    co_key = co.page.wait_for_function(fresh, arg=first)
    alex.page.wait_for_function("(k) => hearth.client.e2ee.keyId === k", arg=co_key.json_value())
    assert alex.page.evaluate("() => hearth.client.e2ee.code") == co.page.evaluate("() => hearth.client.e2ee.code")
    live(alex, "Co")
    live(co, "Alex")
    expect(alex.page.get_by_test_id("e2ee-status")).to_have_attribute("data-status", "encrypted")


def test_under_required_a_browser_that_cannot_encrypt_waits_and_says_why(hearth: HearthServer, people: Factory) -> None:
    created = hearth.create_session("Required", requires_agreement=False, admission="open", e2ee="required")
    lead = people("Facilitator", created["facilitator_url"])
    old = people("Old", hearth.invite(created["id"], "Old")["url"], can_encrypt=False)
    enter(lead)
    old.page.goto(old.url)
    screen = old.page.get_by_test_id("end-e2ee")
    expect(screen).to_contain_text("cannot encrypt")
    expect(screen).to_contain_text("This page waits here")
    assert old.page.evaluate("() => hearth.client.e2ee.status") == "unsupported"
    assert old.page.evaluate("() => hearth.client.publisher === null && hearth.client.subscriber === null")
    assert axe_clean(old.page) == []
    old.screenshot("e2ee-required-unsupported")


def test_under_preferred_one_browser_that_cannot_encrypt_puts_the_session_in_the_clear(
    hearth: HearthServer, people: Factory
) -> None:
    created = hearth.create_session("Preferred", requires_agreement=False, admission="open", e2ee="preferred")
    lead = people("Facilitator", created["facilitator_url"])
    old = people("Old", hearth.invite(created["id"], "Old")["url"], can_encrypt=False)
    enter(lead)
    enter(old)
    expect(lead.page.get_by_test_id("e2ee-status")).to_have_attribute("data-status", "clear")
    # The words shown (a phone shows shorter ones: the page holds both).
    expect(lead.page.get_by_test_id("e2ee-status")).to_have_text(
        "Not end-to-end encrypted: a browser or app in the session cannot", use_inner_text=True
    )
    expect(old.page.get_by_test_id("e2ee-status")).to_have_text(
        "Not end-to-end encrypted: this browser cannot", use_inner_text=True
    )
    live(lead, "Old")
    live(old, "Facilitator")
    expect(lead.tile("Old")).to_have_attribute("data-e2ee", "clear")
    expect(lead.tile("Old").get_by_test_id("tile-e2ee")).to_have_text("Not encrypted")


def test_sent_back_to_the_waiting_room_a_member_gets_no_new_key_until_let_in_again(
    hearth: HearthServer, people: Factory
) -> None:
    created = hearth.create_session("Lobby", requires_agreement=False, admission="lobby", e2ee="required")
    lead = people("Facilitator", created["facilitator_url"])
    alex = people("Alex", hearth.invite(created["id"], "Alex")["url"])
    sam = people("Sam", hearth.invite(created["id"], "Sam")["url"])
    enter(lead)
    for member in (alex, sam):
        enter(member)
        lead.page.get_by_test_id("lobby-entry").filter(has_text=member.name).get_by_test_id("admit-button").click()
        expect(member.page.get_by_test_id("room")).to_be_visible()
    live(sam, "Alex")
    sam_id = sam.page.evaluate("() => hearth.you.id")
    key = "() => hearth.client.e2ee.keyId"
    alex.page.wait_for_function("(k) => hearth.client.e2ee.keyId === k", arg=lead.page.evaluate(key))
    shared = sam.page.evaluate(key)

    assert lead.page.evaluate("async (id) => Boolean(await hearth.run('lobby.send', {id}))", sam_id)
    expect(sam.page.get_by_test_id("lobby-waiting")).to_be_visible()
    fresh = alex.page.wait_for_function(
        "(old) => hearth.client.e2ee.keyId !== old && hearth.client.e2ee.keyId", arg=shared
    )
    live(alex, "Facilitator")
    assert sam.page.evaluate(key) == shared, "the member in the waiting room was given the new key"

    lead.page.get_by_test_id("lobby-entry").filter(has_text="Sam").get_by_test_id("admit-button").click()
    expect(sam.page.get_by_test_id("room")).to_be_visible()
    sam.page.wait_for_function("(old) => ![null, old].includes(hearth.client.e2ee.keyId)", arg=fresh.json_value())
    live(sam, "Alex")
    live(alex, "Sam")


def test_a_member_who_missed_a_new_key_while_reconnecting_is_sent_it_again(
    hearth: HearthServer, people: Factory
) -> None:
    created = hearth.create_session("Reconnect", requires_agreement=False, admission="open", e2ee="required")
    lead = people("Facilitator", created["facilitator_url"])
    alex = people("Alex", hearth.invite(created["id"], "Alex")["url"])
    for person in (lead, alex):
        enter(person)
    live(alex, "Facilitator")
    before = alex.page.evaluate("() => hearth.client.e2ee.keyId")
    alex.page.evaluate("() => hearth.client.socket.disconnect()")  # its seat waits out the grace period
    sam = people("Sam", hearth.invite(created["id"], "Sam")["url"])
    enter(sam)  # a new key, whose grant to Alex finds nobody to deliver to
    current = lead.page.wait_for_function(
        "(old) => hearth.client.e2ee.keyId !== old && hearth.client.e2ee.keyId", arg=before
    )
    assert alex.page.evaluate("() => hearth.client.e2ee.keyId") == before
    alex.page.evaluate("() => hearth.client.socket.connect()")
    alex.page.wait_for_function("(k) => hearth.client.e2ee.keyId === k", arg=current.json_value())
    live(alex, "Sam")
    live(sam, "Alex")
