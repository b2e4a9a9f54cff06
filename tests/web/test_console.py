"""The facilitator's console with eight members: compact, alerts that stay in view until someone acts
on them, and a keyboard order that reaches the waiting room and the raised hands first.

The console is a Chromium page; the eight members are Socket.IO participants without a browser
(tests/web/members.mjs), so the room is full while the machine stays free for the page under test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import make_person
from tests.web.hearth_process import HearthServer
from tests.web.people import SIZES, axe_clean
from tests.web.quiet_members import QuietMembers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MEMBERS = ["Ada", "Ben", "Cleo", "Dev", "Esi", "Finn", "Gia", "Hal"]
LATE = "Ines"  # arrives later, to be admitted from the keyboard
ROW_HEIGHT_LIMIT = 80  # CSS px: a member's row is two short lines (58 px seen at either size)
TALL_LIMIT = 1400  # CSS px at 1280x800: under 1.75 screens (the issue measured 2,918 before)


class Console:
    def __init__(self, hearth: HearthServer, browser: Browser) -> None:
        created = hearth.create_session("Monday group", requires_agreement=False, admission="lobby")
        self.hearth, self.session_id = hearth, created["id"]
        self.facilitator = make_person(browser, "Lead", created["facilitator_url"])
        self.members: QuietMembers | None = None
        self.late: QuietMembers | None = None

    @property
    def page(self) -> Page:
        return self.facilitator.page

    def open_with_eight(self) -> None:
        self.facilitator.open()
        self.facilitator.join()
        expect(self.page.get_by_test_id("console")).to_be_visible()
        self.members = QuietMembers.seat(self.hearth, self.session_id, MEMBERS)
        expect(self.page.get_by_test_id("lobby-entry")).to_have_count(8)
        self.page.get_by_test_id("admit-all").click()
        expect(self.page.get_by_test_id("member-row")).to_have_count(8)
        expect(self.page.get_by_test_id("lobby-entry")).to_have_count(0)  # the lobby's own update too

    def close(self) -> None:
        for quiet in (self.members, self.late):
            if quiet:
                quiet.close()
        self.facilitator.close()


@pytest.fixture(scope="module")
def console(hearth: HearthServer, browser: Browser) -> Iterator[Console]:
    c = Console(hearth, browser)
    c.open_with_eight()
    yield c
    c.close()


def tabs_to(page: Page, selector: str, limit: int = 60) -> int:
    """Presses of Tab from the page's first stop (the skip link) until focus is on the first match of `selector`."""
    page.evaluate(
        "() => { window.scrollTo(0, 0); document.querySelector('.skip-link').focus(); }"
    )  # the page's first stop
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return presses
    raise AssertionError(f"{selector} not reached in {limit} presses of Tab")


def in_view(page: Page, testid: str) -> bool:
    box = page.get_by_test_id(testid).first.bounding_box()
    height = page.viewport_size["height"] if page.viewport_size else 0
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= height  # type: ignore[index]


def at_each_size(page: Page) -> Iterator[tuple[int, int]]:
    """Set the console to a laptop's, then a phone's size (and back to the laptop's after)."""
    try:
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            yield width, height
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


def compact_rows(page: Page) -> None:
    """One compact row per member: name, connection, microphone and camera, speaking share, "Give
    floor" and the rarer actions behind its menu (none of them shown until it opens)."""
    rows = page.get_by_test_id("member-row")
    expect(rows).to_have_count(8)
    for i in range(8):
        row = rows.nth(i)
        box = row.bounding_box()
        assert box and box["height"] <= ROW_HEIGHT_LIMIT, (i, box)
        for part in ("connection", "audible", "share", "give-floor", "member-menu"):
            expect(row.get_by_test_id(part)).to_have_count(1)
        expect(row.locator(".devices .icon")).to_have_count(2)
        expect(row.locator(".devices")).to_contain_text(re.compile(r"microphone (on|off), camera (on|off)"))
        expect(row.get_by_test_id("share")).to_be_visible()
        expect(row.get_by_test_id("remove-button")).to_be_hidden()
        expect(row.get_by_test_id("mute-button")).to_be_hidden()


def test_the_console_at_eight_members_is_a_compact_row_each_in_under_two_screens(console: Console) -> None:
    page = console.page
    height = page.evaluate("() => document.documentElement.scrollHeight")
    print(f"console height with eight members at 1280x800: {height} px")
    assert height <= TALL_LIMIT, height
    console.facilitator.at_sizes("console-eight", lambda: compact_rows(page))


def test_the_keyboard_reaches_the_waiting_room_first(console: Console, hearth: HearthServer) -> None:
    console.late = QuietMembers.seat(hearth, console.session_id, [LATE])
    page = console.page
    expect(page.get_by_test_id("lobby-entry")).to_have_count(1)
    press_after_tabs(console, '[data-testid="admit-button"]', "the first Admit", 4, "console-lobby-first")
    expect(page.get_by_test_id("member-row")).to_have_count(9)


def press_after_tabs(
    console: Console, selector: str, what: str, most: int, shot: str, check: Callable[[], None] = lambda: None
) -> None:
    """At each window size (``check`` first): Tab reaches ``selector`` within ``most`` presses from the
    top, and axe finds nothing; then Enter on it."""
    page = console.page
    for width, height in at_each_size(page):
        check()
        presses = tabs_to(page, selector)
        print(f"Tab presses to {what} at {width}x{height}: {presses}")
        assert presses <= most, (width, presses)
        assert axe_clean(page) == [], (width, height)
        console.facilitator.screenshot(f"{shot}-{width}x{height}")
    tabs_to(page, selector)
    page.keyboard.press("Enter")


def test_raised_hands_are_one_list_at_the_top_of_the_people_one_tab_stop_from_the_floor(console: Console) -> None:
    assert console.members
    page = console.page
    for name in ("Gia", "Cleo"):
        console.members.tell(name, "hand.raise")
    rows = page.get_by_test_id("member-row")

    def one_list_at_the_top() -> None:
        expect(rows.nth(0)).to_contain_text("Gia")
        expect(rows.nth(0).get_by_test_id("hand-position")).to_have_text("Hand 1st")
        expect(rows.nth(0).get_by_test_id("hand-position")).to_be_visible()
        expect(rows.nth(1)).to_contain_text("Cleo")
        expect(rows.nth(1).get_by_test_id("hand-position")).to_have_text("Hand 2nd")
        expect(page.get_by_test_id("queue-list")).to_have_count(0)  # no second list of the same hands
        expect(page.get_by_test_id("queue-next")).to_have_text("Next in line: Gia, Cleo")

    first_hand = '[data-testid="member-row"][data-queue-position="1"] [data-testid="give-floor"]'
    press_after_tabs(
        console, first_hand, "the first raised hand's Give floor", 12, "console-hands", one_list_at_the_top
    )
    expect(page.get_by_test_id("console-floor")).to_contain_text("Gia has the floor")
    expect(rows.nth(0)).to_contain_text("Gia")  # the holder heads the list; Cleo is next
    expect(rows.nth(1).get_by_test_id("hand-position")).to_have_text("Hand 1st")
    gia = page.locator('[data-testid="tile"][data-name="Gia"]')

    def speaker_first_and_large() -> None:
        # The console's video shows the speaker large, first (not the facilitators' small fixed grid).
        expect(gia).to_have_class(re.compile(r"\bspotlight\b"))
        assert gia.evaluate("(t) => getComputedStyle(t).order") == "-1"
        big, small = gia.bounding_box(), page.locator('[data-testid="tile"]:not(.spotlight)').first.bounding_box()
        assert big and small and big["width"] > 1.5 * small["width"], (big, small)

    console.facilitator.at_sizes("console-speaker", speaker_first_and_large)


def test_no_safety_plan_badges_when_the_session_asks_for_none(console: Console) -> None:
    page = console.page

    def no_badges() -> None:
        expect(page.locator('[data-testid="member-row"] [data-testid="safety-badge"]:visible')).to_have_count(0)
        expect(page.get_by_test_id("safety-panel")).to_contain_text("does not ask for safety plans")

    console.facilitator.at_sizes("console-no-safety-badges", no_badges)


def pinned_until_acknowledged(console: Console, helper: str, dropper: str, label: str) -> None:
    """`helper` asks for help and `dropper`'s connection drops: both alerts stay in view however far
    the console scrolls, the title keeps its "(!)" through state updates, the drop says how long ago
    (not a clock time), and each goes only when acknowledged."""
    assert console.members
    page = console.page
    console.members.tell(helper, "help")
    console.members.tell(dropper, "drop")
    alert = page.get_by_test_id("help-alert")
    expect(alert).to_contain_text(f"{helper} is asking for help")
    page.get_by_test_id("member-row").filter(has_text="Esi").get_by_test_id("give-floor").click()
    page.get_by_test_id("member-row").filter(has_text="Finn").get_by_test_id("give-floor").click()
    expect(page.get_by_test_id("console-floor")).to_contain_text("Finn has the floor")
    expect(page).to_have_title(re.compile(r"^\(!\) Monday group"))  # kept through the state updates
    drop = page.get_by_test_id("drop-alert")
    # How long ago, not a clock time; the session asks for no safety plans, so nothing of a missing one.
    expect(drop.locator("strong")).to_have_text(
        re.compile(rf"^{dropper}: Connection dropped (\d+ s|just now|1 min) ago\.$"), timeout=30_000
    )
    for where in ("document.documentElement.scrollHeight / 2", "document.documentElement.scrollHeight"):
        page.evaluate(f"() => window.scrollTo(0, {where})")
        assert in_view(page, "help-alert"), "the help alert scrolled away"
        assert in_view(page, "drop-alert"), "the drop alert scrolled away"
    console.facilitator.screenshot(f"console-pinned-alerts-{label}")
    assert axe_clean(page) == []
    page.get_by_test_id("help-dismiss").click()
    expect(alert).to_have_count(0)
    expect(page).to_have_title(re.compile(r"^\(!\) "))  # the drop is still unacknowledged
    drop.get_by_test_id("drop-dismiss").click()
    expect(drop).to_have_count(0)
    expect(page).not_to_have_title(re.compile(r"^\(!\) "))


def test_help_and_a_dropped_connection_stay_pinned_in_view_until_acknowledged(console: Console) -> None:
    pinned_until_acknowledged(console, "Ben", "Dev", "1280x800")


def test_on_a_phone_the_console_keeps_its_alerts_pinned(console: Console) -> None:
    page = console.page
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        pinned_until_acknowledged(console, "Hal", "Ada", "390x844")
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})
