"""A full group on a phone, and what a screen reader hears.

Nine people in one session: the facilitator's console and Robin, on a 390x844 phone, are Chromium
pages; the seven other members are Socket.IO participants without a browser (tests/web/members.mjs:
nine Chromium pages starve this shared 2-core machine). Robin must always have "I need help" and
the turn controls on screen, however far the page scrolls; the status takes one line and the self
view a corner. Every floor, phase, go-around and turn-time change is said in the polite live region, which
the tests read as a screen reader would (every text the region takes, in order).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.web.conftest import make_person, set_floor_mode
from tests.web.hearth_process import HearthServer
from tests.web.people import HEAR_JS, OWN_SAMPLED_JS, OWN_WEAK_JS, Person, axe_clean, turn_status_at_top
from tests.web.quiet_members import QuietMembers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = (390, 844)
OTHERS = ("Ash", "Bea", "Cy", "Dee", "Eve", "Fay", "Gus")


class FullGroup:
    """Open admission, no agreement: people walk in as soon as the facilitator is there."""

    def __init__(self, hearth: HearthServer, browser: Browser) -> None:
        created = hearth.create_session("Friday group", requires_agreement=False, admission="open")
        self.session_id = created["id"]
        self.facilitator = make_person(browser, "Lead", created["facilitator_url"])
        self.facilitator.context.add_init_script(HEAR_JS)
        self.robin = make_person(browser, "Robin", self.invite(hearth, "Robin"), viewport=PHONE)
        self.robin.context.add_init_script(HEAR_JS)
        self.others: QuietMembers | None = None
        self.hearth = hearth

    def invite(self, hearth: HearthServer, name: str) -> str:
        url: str = hearth.invite(self.session_id, name)["url"]
        return url

    def seat_everyone(self) -> None:
        self.facilitator.open()
        self.facilitator.join()
        expect(self.console.get_by_test_id("console")).to_be_visible()
        self.robin.open()
        self.robin.join()
        expect(self.robin.page.get_by_test_id("room")).to_be_visible()
        self.others = QuietMembers.seat(self.hearth, self.session_id, list(OTHERS))
        expect(self.robin.page.locator('[data-testid="tile"]')).to_have_count(8)
        expect(self.console.get_by_test_id("member-row")).to_have_count(8)

    @property
    def console(self) -> Page:
        return self.facilitator.page

    def row(self, name: str) -> Locator:
        return self.console.get_by_test_id("member-row").filter(has_text=name)

    def close(self) -> None:
        if self.others:
            self.others.close()
        for person in (self.facilitator, self.robin):
            person.close()


@pytest.fixture(scope="module")
def full(hearth: HearthServer, browser: Browser) -> Iterator[FullGroup]:
    group = FullGroup(hearth, browser)
    group.seat_everyone()
    yield group
    group.close()


def on_screen(page: Page, testid: str) -> None:
    """Wholly inside the viewport, and the topmost thing at its centre (not under another layer)."""
    box = page.get_by_test_id(testid).bounding_box()
    assert box, f"{testid} is not rendered"
    width, height = page.viewport_size["width"], page.viewport_size["height"]  # type: ignore[index]
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, f"{testid} at y={box['y']:.0f} of {height}"
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{testid} at x={box['x']:.0f} of {width}"
    hit = page.evaluate(
        '([id, x, y]) => document.elementFromPoint(x, y)?.closest(`[data-testid="${id}"]`) !== null',
        [testid, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert hit, f"{testid} is covered"


def scroll_to_bottom(page: Page) -> None:
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")


def heard(person: Person) -> list[str]:
    said: list[str] = person.page.evaluate("() => window.heard")
    return said


def expect_heard(person: Person, pattern: str) -> None:
    """The live region said something matching `pattern` (a screen reader would have read it out)."""
    try:
        person.page.wait_for_function(
            "(p) => window.heard.some((t) => new RegExp(p).test(t))", arg=pattern, timeout=20_000
        )
    except Exception as err:
        raise AssertionError(f"{person.name} never heard {pattern!r}; heard {heard(person)}") from err


def status_is_one_line_and_self_view_small(page: Page) -> None:
    """The phase and floor pills take one line each, right under the title (not 300-420 px above the
    video); the self view is a corner picture on a phone, and on a laptop no larger than the others'
    tiles (an equal tile of the grid there, as in other tools' gallery views)."""
    phone = bool(page.viewport_size and page.viewport_size["width"] <= 640)
    turn_status_at_top(page)
    strip = page.locator(".room .status-strip").first.bounding_box()  # every pill, the encryption's too
    assert strip and strip["height"] <= 160, strip
    self_view = page.get_by_test_id("self-tile").bounding_box()
    other = page.locator('[data-testid="tile"]').first.bounding_box()
    assert self_view and other and self_view["width"] <= other["width"], (self_view, other)
    if phone:
        assert self_view["width"] <= 100 and self_view["width"] < other["width"], (self_view, other)


def test_on_a_phone_help_stays_on_screen_and_the_status_is_one_line(full: FullGroup) -> None:
    page = full.robin.page
    on_screen(page, "help-button")
    on_screen(page, "hand-button")
    on_screen(page, "mic-toggle")
    scroll_to_bottom(page)  # past the grid, to the messages
    on_screen(page, "help-button")
    page.evaluate("() => window.scrollTo(0, 0)")
    status_is_one_line_and_self_view_small(page)
    full.robin.screenshot("phone-room-390x844")
    assert axe_clean(page) == []

    def help_in_reach() -> None:  # at either size, at the top and with the page scrolled past the grid
        page.evaluate("() => window.scrollTo(0, 0)")
        status_is_one_line_and_self_view_small(page)
        scroll_to_bottom(page)
        on_screen(page, "help-button")
        on_screen(page, "hand-button")

    full.robin.at_sizes("room-help-in-reach", help_in_reach)
    # The fullest strip a member sees: a weak link's notice besides, and encryption off because a
    # browser here cannot (the quiet members' aiortc): the status still stays short.
    expect(page.get_by_test_id("e2ee-status")).to_have_attribute("data-status", "clear")
    page.evaluate(OWN_WEAK_JS)
    try:
        expect(page.get_by_test_id("own-quality")).to_be_visible()
        full.robin.at_sizes("room-weak-link", help_in_reach)
    finally:
        page.evaluate(OWN_SAMPLED_JS)
    page.evaluate("() => window.scrollTo(0, 0)")


def test_on_a_phone_the_turn_controls_stay_on_screen(full: FullGroup) -> None:
    page = full.robin.page
    full.row("Robin").get_by_test_id("give-floor").click()
    expect(page.get_by_test_id("release-button")).to_be_visible()
    on_screen(page, "release-button")
    scroll_to_bottom(page)
    on_screen(page, "release-button")
    on_screen(page, "help-button")
    page.get_by_test_id("release-button").click()
    expect(page.get_by_test_id("release-button")).to_be_hidden()

    full.console.get_by_test_id("goaround-start").click()  # Robin joined first of the members
    expect(page.get_by_test_id("pass-button")).to_be_visible()

    def turn_in_reach() -> None:
        scroll_to_bottom(page)
        for testid in ("pass-button", "release-button", "help-button", "turn-hint"):
            on_screen(page, testid)

    full.robin.at_sizes("room-turn-in-reach", turn_in_reach)
    page.get_by_test_id("pass-button").click()
    expect(page.get_by_test_id("pass-button")).to_be_hidden()
    full.console.get_by_test_id("goaround-stop").click()


def test_on_a_phone_the_less_used_controls_are_behind_more(full: FullGroup) -> None:
    page = full.robin.page
    expect(page.get_by_test_id("leave-button")).to_be_hidden()
    page.get_by_test_id("more-button").click()
    expect(page.get_by_test_id("more-button")).to_have_attribute("aria-expanded", "true")
    on_screen(page, "leave-button")
    on_screen(page, "messages-button")
    full.robin.screenshot("phone-more-390x844")
    assert axe_clean(page) == []
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("leave-button")).to_be_hidden()
    expect(page.get_by_test_id("more-button")).to_be_focused()


def announced_at_both_sizes(full: FullGroup, label: str, pattern: str) -> None:
    """Robin (on a phone) and the facilitator (on a laptop) both heard it; the live region is polite
    and axe finds nothing at either size (screenshots kept)."""
    for person in (full.robin, full.facilitator):
        expect_heard(person, pattern)

    def polite() -> None:
        expect(full.robin.page.locator("#announcer")).to_have_attribute("aria-live", "polite")

    full.robin.at_sizes(f"announce-{label}", polite)


def test_a_screen_reader_hears_the_floor_move_between_others(full: FullGroup) -> None:
    full.row("Ash").get_by_test_id("give-floor").click()
    announced_at_both_sizes(full, "floor-given", r"^Ash has the floor\.$")
    full.row("Bea").get_by_test_id("give-floor").click()
    expect_heard(full.robin, r"^Bea has the floor\.$")
    expect_heard(full.facilitator, r"^Bea has the floor\.$")
    full.console.get_by_test_id("floor-release").click()
    announced_at_both_sizes(full, "floor-released", r"^Nobody has the floor now\.$")


def test_a_screen_reader_hears_the_phase_and_its_rules_change(full: FullGroup) -> None:
    set_floor_mode(full.console, "strict")
    announced_at_both_sizes(full, "strict", r"^One voice at a time: only the person with the floor is heard\.$")
    full.console.get_by_test_id("phase-next").click()
    announced_at_both_sizes(full, "phase", r"^Now: focused conversation\. Raise your hand to speak\.$")


def test_a_screen_reader_hears_a_go_around_start_move_on_and_end(full: FullGroup) -> None:
    full.console.get_by_test_id("goaround-start").click()
    expect_heard(full.robin, r"^Go-around started: your turn first\.$")
    expect_heard(full.facilitator, r"^Go-around started: Robin's turn first\.$")
    full.robin.page.get_by_test_id("pass-button").click()
    # the others joined in any order
    announced_at_both_sizes(full, "goaround-next", r"Go-around: [A-Z]\w+'s turn \(2 of 8\)\.")
    full.console.get_by_test_id("goaround-stop").click()
    # Its own sentence, alone or joined to the one before when both came within the live region's
    # batching window (a screen reader reads the whole text either way).
    announced_at_both_sizes(full, "goaround-over", r"(^|\. )The go-around is over\.$")


def test_a_screen_reader_hears_a_turns_time_run_out(full: FullGroup) -> None:
    full.console.get_by_test_id("turn-seconds").fill("15")
    full.console.get_by_test_id("goaround-start").click()  # Robin first, 15 s each
    expect_heard(full.robin, r"^Go-around started: your turn first\.$")
    expect_heard(full.robin, r"^Time is up for your turn\. Go-around: [A-Z]\w+'s turn \(2 of 8\)\.$")
    expect_heard(full.facilitator, r"^Time is up for Robin's turn\. Go-around: [A-Z]\w+'s turn \(2 of 8\)\.$")
    pass_button = full.robin.page.get_by_test_id("pass-button")
    full.robin.at_sizes("announce-time-up", lambda: expect(pass_button).to_be_hidden())
    full.console.get_by_test_id("goaround-stop").click()
    said = heard(full.robin)
    assert not any(re.search(r"has the floor", t) for t in said[-3:]), said  # the go-around says it, once
