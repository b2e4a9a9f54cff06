"""The emergency plan in Chromium: a member shares where they are and whom to call, only the
facilitators see it, admission waits for it, "Ask again" is answered without retyping, and the
member's page stores none of it.

The tests share one session (joining costs seconds); each brings it to the state it needs, so any
one of them also runs alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, expect

from tests.web.conftest import PersonFactory, make_person
from tests.web.hearth_process import HearthServer, start_server
from tests.web.people import ARTIFACTS, Person, accessibility_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOCATION = "14 Rowan Close, Leeds LS6 2QT"
CONTACT_NAME = "Dana Whitfield"
CONTACT_PHONE = "+44 7700 900123"
LATER_LOCATION = "My sister's flat, 3 Mill Lane, Otley"
CALLBACK = "07700 900456"

STORAGE_JS = """async () => ({
  localStorage: JSON.stringify(Object.entries(localStorage)),
  sessionStorage: JSON.stringify(Object.entries(sessionStorage)),
  cookie: document.cookie,
  indexedDB: JSON.stringify(await indexedDB.databases()),
})"""


class Circle:
    """A session that requires the agreement and a safety plan: a facilitator and one member, Robin."""

    def __init__(self, hearth: HearthServer, browser: Browser) -> None:
        created = hearth.create_session("Thursday safety check", requires_agreement=True, requires_safety_plan=True)
        self.facilitator = make_person(browser, "Lead", created["facilitator_url"])
        self.robin = make_person(browser, "Robin", hearth.invite(created["id"], "Robin")["url"])
        self.seated = False

    @property
    def console(self) -> Locator:
        return self.facilitator.page.get_by_test_id("console")

    def plan_row(self) -> Locator:
        return self.facilitator.page.get_by_test_id("safety-row").filter(has_text="Robin")

    def plans_received(self) -> int:
        count: int = self.facilitator.page.evaluate(
            "() => [...hearth.safetyPlans.values()].find((p) => p.name === 'Robin')?.count ?? 0"
        )
        return count

    def open_console(self) -> None:
        self.facilitator.open()
        self.facilitator.join()
        expect(self.console).to_be_visible()

    def fill_plan(self, location: str) -> None:
        page = self.robin.page
        page.get_by_test_id("safety-location").fill(location)
        page.get_by_test_id("safety-contact-name").fill(CONTACT_NAME)
        page.get_by_test_id("safety-contact-phone").fill(CONTACT_PHONE)
        page.get_by_test_id("safety-send").click()
        expect(page.get_by_test_id("safety-sent")).to_contain_text("Shared with the facilitators")

    def seat_with_plan(self) -> None:
        """Robin shares a plan in the waiting room and is admitted, once per module."""
        if self.seated:
            return
        self.open_console()
        self.robin.open()
        self.robin.join()
        self.fill_plan(LOCATION)
        entry = self.facilitator.page.get_by_test_id("lobby-entry").filter(has_text="Robin")
        entry.get_by_test_id("admit-button").click()
        expect(self.robin.page.get_by_test_id("room")).to_be_visible()
        self.seated = True

    def close(self) -> None:
        self.facilitator.close()
        self.robin.close()


@pytest.fixture(scope="module")
def circle(hearth: HearthServer, browser: Browser) -> Iterator[Circle]:
    c = Circle(hearth, browser)
    yield c
    c.close()


def assert_nothing_stored(person: Person, *texts: str) -> None:
    """None of `texts` in the page's storage (local, session, cookies, IndexedDB) nor the context's cookies."""
    stored: dict[str, str] = person.page.evaluate(STORAGE_JS)
    stored["context cookies"] = repr(person.context.cookies())
    for where, content in stored.items():
        for text in texts:
            assert text not in content, f"{text!r} found in {person.name}'s {where}"


def test_member_shares_a_plan_in_the_waiting_room_and_only_then_is_admitted(circle: Circle) -> None:
    circle.open_console()
    robin, console = circle.robin.page, circle.facilitator.page
    circle.robin.open()
    circle.robin.join()  # accepts the group agreement
    expect(robin.get_by_test_id("lobby-waiting")).to_be_visible()
    expect(robin.get_by_test_id("safety-form")).to_be_visible()
    expect(robin.get_by_test_id("safety-privacy")).to_contain_text("Only the facilitators see this")
    expect(robin.get_by_test_id("safety-privacy")).to_contain_text("Hearth does not keep it")
    expect(robin.get_by_test_id("lobby-status")).to_contain_text("share your safety plan")
    expect(robin.get_by_test_id("safety-callback")).to_have_attribute("type", "tel")
    expect(robin.get_by_test_id("safety-callback")).not_to_have_attribute("required", "")
    circle.robin.screenshot("safety-form")
    assert accessibility_problems(robin) == []  # the form as a member first sees it

    # Agreed but no plan yet: the console may not admit Robin, and says why.
    entry = console.get_by_test_id("lobby-entry").filter(has_text="Robin")
    expect(entry).to_contain_text("Agreed to the guidelines")
    expect(entry.get_by_test_id("admit-button")).to_be_disabled()
    expect(entry.get_by_test_id("admit-why")).to_contain_text("once they have shared a safety plan")
    expect(entry.get_by_test_id("safety-badge")).to_have_attribute("data-shared", "false")
    expect(circle.plan_row().get_by_test_id("safety-state")).to_have_text("Not shared yet.")

    # An incomplete plan is caught in the page, pointing at the field to fix.
    robin.get_by_test_id("safety-location").fill(LOCATION)
    robin.get_by_test_id("safety-send").click()
    expect(robin.get_by_test_id("safety-error")).to_contain_text("name of someone we can call")
    expect(robin.get_by_test_id("safety-contact-name")).to_be_focused()

    circle.fill_plan(LOCATION)
    plan = circle.plan_row().get_by_test_id("safety-plan")
    expect(plan).to_contain_text(LOCATION)
    expect(plan).to_contain_text(f"{CONTACT_NAME}, {CONTACT_PHONE}")
    expect(entry.get_by_test_id("safety-badge")).to_have_attribute("data-shared", "true")
    expect(entry.get_by_test_id("admit-why")).to_be_hidden()
    expect(robin.get_by_test_id("lobby-status")).to_contain_text("A facilitator will let you in shortly")
    circle.robin.screenshot("safety-lobby")
    circle.facilitator.screenshot("safety-lobby")
    assert accessibility_problems(robin) == []

    # A correction right after the first plan arrives too: the page waits out the server's 2 s limit.
    robin.get_by_test_id("safety-change").click()
    expect(robin.get_by_test_id("safety-location")).to_have_value(LOCATION)  # from memory
    robin.get_by_test_id("safety-location").fill(f"{LOCATION}, upstairs flat")
    robin.get_by_test_id("safety-send").click()
    expect(robin.get_by_test_id("safety-sent")).to_contain_text("upstairs flat")
    expect(plan).to_contain_text(f"{LOCATION}, upstairs flat")
    expect(robin.get_by_test_id("safety-error")).to_be_hidden()

    entry.get_by_test_id("admit-button").click()
    expect(robin.get_by_test_id("room")).to_be_visible()
    circle.seated = True
    roster = console.get_by_test_id("member-row").filter(has_text="Robin")
    expect(roster.get_by_test_id("safety-badge")).to_have_attribute("data-shared", "true")
    assert_nothing_stored(circle.robin, LOCATION, CONTACT_NAME, CONTACT_PHONE, "Rowan", "7700")


def test_ask_again_is_answered_from_memory_and_nothing_is_stored(circle: Circle) -> None:
    circle.seat_with_plan()
    robin, console = circle.robin.page, circle.facilitator.page
    row = circle.plan_row()
    expect(row.get_by_test_id("safety-plan")).to_contain_text(LOCATION)
    received, first_at = circle.plans_received(), row.get_attribute("data-at")

    row.get_by_test_id("safety-ask").click()
    # Robin's page sends the plan again by itself (waiting out the server's 2 s limit if needed).
    expect(row).not_to_have_attribute("data-at", first_at or "")
    expect(row.get_by_test_id("safety-plan")).to_contain_text(f"{CONTACT_NAME}, {CONTACT_PHONE}")
    assert circle.plans_received() == received + 1
    expect(robin.get_by_test_id("toast-info").filter(has_text="safety plan again")).to_contain_text("sent to them")
    expect(robin.get_by_test_id("safety-form")).to_be_hidden()  # nothing to retype

    # The member can look at what they shared from the room's "My safety plan".
    robin.get_by_test_id("safety-open").click()
    expect(robin.get_by_test_id("safety-sent")).to_contain_text(LOCATION)
    expect(robin.get_by_test_id("safety-open")).to_have_attribute("aria-expanded", "true")
    circle.robin.screenshot("safety-room")
    circle.facilitator.screenshot("safety-console")
    assert accessibility_problems(robin) == []
    assert accessibility_problems(console) == []
    robin.get_by_test_id("safety-close").click()
    expect(robin.get_by_test_id("safety-form")).to_be_hidden()

    assert_nothing_stored(circle.robin, LOCATION, CONTACT_NAME, CONTACT_PHONE, "Rowan", "7700")


def test_after_reloads_the_member_is_asked_to_retype_and_the_console_asks_everyone(circle: Circle) -> None:
    circle.seat_with_plan()
    robin, console = circle.robin.page, circle.facilitator.page

    # A reload empties Robin's page: asked again, the form comes back instead.
    robin.reload()
    expect(robin.get_by_test_id("room")).to_be_visible()
    robin.get_by_test_id("safety-open").click()  # the server told the new page that Robin shared already
    expect(robin.get_by_test_id("safety-sent")).to_contain_text("earlier in this session")
    expect(robin.get_by_test_id("safety-location")).to_be_hidden()
    robin.get_by_test_id("safety-close").click()
    before = circle.plans_received()
    circle.plan_row().get_by_test_id("safety-ask").click()
    expect(circle.plan_row().get_by_test_id("safety-state")).to_contain_text("waiting for their answer")
    expect(robin.get_by_test_id("safety-form")).to_be_visible()
    expect(robin.get_by_test_id("safety-asked")).to_be_visible()
    circle.fill_plan(LATER_LOCATION)
    expect(circle.plan_row().get_by_test_id("safety-plan")).to_contain_text(LATER_LOCATION)  # the newest only
    expect(circle.plan_row().get_by_test_id("safety-plan")).not_to_contain_text(LOCATION)
    assert circle.plans_received() == before + 1

    # A reload empties the console: the server says Robin shared, "Ask everyone" brings the plan back.
    console.reload()
    expect(circle.console).to_be_visible()
    row = circle.plan_row()
    expect(row.get_by_test_id("safety-badge")).to_have_attribute("data-shared", "true")
    expect(row.get_by_test_id("safety-state")).to_contain_text("ask again to see it")
    expect(row.get_by_test_id("safety-plan")).to_be_hidden()
    console.get_by_test_id("safety-ask-all").click()
    expect(row.get_by_test_id("safety-plan")).to_contain_text(LATER_LOCATION)


def test_a_dropped_connection_brings_up_the_number_to_call_back_on(circle: Circle) -> None:
    circle.seat_with_plan()
    robin, console = circle.robin.page, circle.facilitator.page
    row = circle.plan_row()
    expect(row.get_by_test_id("safety-plan")).to_contain_text("If the call dropsNo number given")

    # Robin adds the number to be called back on, from the room's "My safety plan".
    opener = robin.get_by_test_id("safety-open")
    if opener.get_attribute("aria-expanded") != "true":  # still open if a facilitator's ask opened it
        opener.click()
    robin.get_by_test_id("safety-change").click()
    robin.get_by_test_id("safety-callback").fill(CALLBACK)
    robin.get_by_test_id("safety-send").click()
    expect(robin.get_by_test_id("safety-sent")).to_contain_text(f"If the call drops{CALLBACK}")
    expect(row.get_by_test_id("safety-plan")).to_contain_text(f"If the call drops{CALLBACK}")
    expect(row.get_by_test_id("safety-dropped")).to_be_hidden()

    # Robin's network drops: the row says so at once, with the number, and stands out; Robin's page
    # says it is reconnecting and that a facilitator may call that number.
    circle.robin.context.set_offline(True)
    expect(robin.get_by_test_id("offline-notice")).to_contain_text(f"a facilitator may call you on {CALLBACK}")
    dropped = row.get_by_test_id("safety-dropped")
    expect(dropped).to_contain_text("Connection dropped")
    expect(dropped).to_contain_text(f"Call back on {CALLBACK}.")
    expect(row).to_have_class(re.compile(r"\bdropped\b"))
    circle.facilitator.screenshot("safety-dropped")
    assert accessibility_problems(console) == []

    # Back within the grace period, in the same seat: the alerts go.
    circle.robin.context.set_offline(False)
    expect(robin.get_by_test_id("offline-notice")).to_be_hidden()
    expect(dropped).to_be_hidden()
    expect(row).not_to_have_class(re.compile(r"\bdropped\b"))
    assert_nothing_stored(circle.robin, CALLBACK, "900456")


def test_a_member_who_does_not_come_back_stays_flagged_with_the_number(new_person: PersonFactory) -> None:
    hearth = start_server(ARTIFACTS / "logs", ("--grace-seconds", "2"))  # a seat is kept 2 s after a drop
    try:
        created = hearth.create_session("Short grace", requires_safety_plan=True)
        lead = new_person("Lead", created["facilitator_url"])
        kim = new_person("Kim", hearth.invite(created["id"], "Kim")["url"])
        lead.open()
        lead.join()
        kim.open()
        kim.join()
        kim.page.get_by_test_id("safety-location").fill(LOCATION)
        kim.page.get_by_test_id("safety-contact-name").fill(CONTACT_NAME)
        kim.page.get_by_test_id("safety-contact-phone").fill(CONTACT_PHONE)
        kim.page.get_by_test_id("safety-callback").fill(CALLBACK)
        kim.page.get_by_test_id("safety-send").click()
        lead.page.get_by_test_id("lobby-entry").filter(has_text="Kim").get_by_test_id("admit-button").click()
        expect(kim.page.get_by_test_id("room")).to_be_visible()

        kim.context.set_offline(True)  # and never back
        row = lead.page.get_by_test_id("safety-row").filter(has_text="Kim")
        expect(row).to_contain_text("has left")  # the grace period ran out
        expect(row.get_by_test_id("safety-dropped")).to_contain_text(f"did not come back. Call back on {CALLBACK}.")
        expect(row).to_have_class(re.compile(r"\bdropped\b"))
        # At the top of the console too, until a facilitator says they are on it.
        alert = lead.page.get_by_test_id("drop-alert")
        expect(alert).to_contain_text("Kim: Connection dropped")
        expect(alert).to_contain_text(f"did not come back. Call back on {CALLBACK}.")
        expect(lead.page).to_have_title(re.compile(r"^\(!\) "))
        lead.screenshot("safety-not-back")
        assert accessibility_problems(lead.page) == []
        alert.get_by_test_id("drop-dismiss").click()
        expect(alert).to_be_hidden()
        expect(lead.page).not_to_have_title(re.compile(r"^\(!\) "))
        expect(row.get_by_test_id("safety-dropped")).to_be_visible()
    finally:
        hearth.stop()


def test_ending_the_session_forgets_the_plans_on_both_pages(circle: Circle) -> None:
    circle.seat_with_plan()
    robin, console = circle.robin.page, circle.facilitator.page
    expect(circle.plan_row().get_by_test_id("safety-plan")).to_be_visible()
    console.get_by_test_id("end-button").click()
    console.get_by_test_id("confirm-yes").click()
    expect(robin.get_by_test_id("end-ended")).to_be_visible()
    expect(console.get_by_test_id("end-ended")).to_be_visible()
    assert console.evaluate("() => hearth.safetyPlans.size") == 0
    assert robin.evaluate("() => hearth.safety.fields") is None
