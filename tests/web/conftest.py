"""Fixtures for the end-to-end tests: a real Hearth server and Debian's Chromium.

These tests fail (never skip) when /usr/bin/chromium is missing: a green run must mean the browser
client was really exercised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.web.hearth_process import CHROMIUM, CHROMIUM_ARGS, HearthServer, start_server
from tests.web.people import ARTIFACTS, TEST_HOOK_JS, Person

expect.set_options(timeout=20_000)  # generous: these machines are shared and 2-core

PersonFactory = Callable[[str, str], Person]


def pytest_configure(config: pytest.Config) -> None:
    # Real browsers take seconds: `pytest -m "not slow"` leaves them out of the fast loop.
    config.addinivalue_line("markers", "slow: takes seconds (real browsers, real media)")


# Module scope: the sync API's loop must not outlive this directory's tests (async tests elsewhere).
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def hearth() -> Iterator[HearthServer]:
    server = start_server(ARTIFACTS / "logs")
    yield server
    server.stop()


def make_person(
    browser: Browser, name: str, url: str, *, viewport: tuple[int, int] = (1280, 800), probe: bool = True
) -> Person:
    """A person in their own browser context. `probe`: the test may reach the page's app as `hearth`."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    if probe:
        context.add_init_script(TEST_HOOK_JS)
    page = context.new_page()
    page.on("pageerror", lambda err: print(f"[{name}] page error: {err}"))
    return Person(name, url, context, page)


@pytest.fixture
def new_person(browser: Browser) -> Iterator[PersonFactory]:
    """Make people whose browser contexts close when the test ends."""
    made: list[Person] = []

    def make(name: str, url: str) -> Person:
        person = make_person(browser, name, url)
        made.append(person)
        return person

    yield make
    for person in made:
        person.close()


def admit(console: Page, member: Person) -> None:
    """Let `member` in from the console's waiting room, and see them in the room."""
    console.get_by_test_id("lobby-entry").filter(has_text=member.name).get_by_test_id("admit-button").click()
    expect(member.page.get_by_test_id("room")).to_be_visible()


def member_action(console: Page, name: str, testid: str) -> None:
    """One of the rarer actions of a console's roster row, from its menu (mute, message, waiting room, remove)."""
    row = console.get_by_test_id("member-row").filter(has_text=name)
    row.get_by_test_id("member-menu").click()
    row.get_by_test_id(testid).click()


def set_floor_mode(console: Page, mode: str) -> None:
    """The current phase's rules: "open", "hands" or "strict"."""
    console.get_by_test_id("current-mode").select_option(mode)


class Group:
    """A facilitator and two members (Alex, Sam) in one session, each in their own browser context."""

    _titles = count(1)

    def __init__(self, hearth: HearthServer, browser: Browser) -> None:
        self.title = f"Tuesday evening group {next(self._titles)}"
        created = hearth.create_session(self.title, requires_agreement=True, admission="lobby")
        self.session_id: str = created["id"]
        self.facilitator = make_person(browser, "Facilitator", created["facilitator_url"])
        self.alex = make_person(browser, "Alex", hearth.invite(self.session_id, "Alex")["url"])
        self.sam = make_person(browser, "Sam", hearth.invite(self.session_id, "Sam")["url"])
        self.facilitator_name = ""
        self.admitted = False

    @property
    def members(self) -> list[Person]:
        return [self.alex, self.sam]

    @property
    def everyone(self) -> list[Person]:
        return [self.facilitator, *self.members]

    def open_console(self) -> None:
        f = self.facilitator
        f.open()
        f.join()
        expect(f.page.get_by_test_id("console")).to_be_visible()
        self.facilitator_name = f.page.get_by_test_id("self-tile").get_attribute("data-name") or ""

    def enter_lobby(self, member: Person) -> None:
        member.open()
        expect(member.page.get_by_test_id("session-title")).to_have_text(self.title)
        member.join()
        expect(member.page.get_by_test_id("lobby-waiting")).to_be_visible()

    def admit(self, member: Person) -> None:
        admit(self.facilitator.page, member)

    def give_floor(self, name: str) -> None:
        """Give the floor from the console, unless that person already holds it."""
        console = self.facilitator.page
        button = console.get_by_test_id("member-row").filter(has_text=name).get_by_test_id("give-floor")
        if button.is_enabled():
            button.click()
        expect(console.get_by_test_id("console-floor")).to_contain_text(f"{name} has the floor")

    def ensure_admitted(self) -> None:
        """Bring everyone into the room through the UI, once per module."""
        if self.admitted:
            return
        self.open_console()
        for member in self.members:
            self.enter_lobby(member)
        for member in self.members:
            self.admit(member)
        self.admitted = True

    def close(self) -> None:
        for person in self.everyone:
            person.close()


@pytest.fixture(scope="module")
def group(hearth: HearthServer, browser: Browser) -> Iterator[Group]:
    g = Group(hearth, browser)
    yield g
    g.close()
