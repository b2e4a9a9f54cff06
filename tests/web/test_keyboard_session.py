"""A whole session with the keyboard only, every focus stop asserted, and axe on every screen.

Kai (a member) and the facilitator use Tab, Shift+Tab, Enter, Space and Escape only: Kai agrees
and joins, raises a hand, speaks, nods, asks for help; the facilitator admits, gives the floor,
moves the phase, mutes, removes and ends. A third member, Lou, is a Socket.IO participant without a
browser (tests/web/members.mjs), so there is someone else to hold the floor and to remove. Each
screen is checked with axe-core for findings of every impact: the bar is zero, and kept as a
screenshot. The whole session runs twice: on a laptop (1280x800) and on a phone (390x844), where the
less used controls sit behind "More" (one stop instead of four).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import make_person
from tests.web.hearth_process import HearthServer
from tests.web.keyboard import FOCUSED_JS, focused, tab_through
from tests.web.people import SIZES, Person, axe_clean
from tests.web.quiet_members import QuietMembers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The join screen's stops before its agreement and button: devices, then the device picker.
DEVICE_STOPS = [
    "mic-toggle",
    "camera-toggle",
    "summary:Choose camera, microphone and speaker",
    "camera-select",
    "mic-select",
    "speaker-select",
    "speaker-test",
]


# The console's controls past its notes on a laptop; on a phone the last four are behind "More".
DEVICES = ["mic-toggle", "camera-toggle"]
LAPTOP_BAR = [*DEVICES, "speaker-view-toggle", "audio-only-toggle", "devices-button", "leave-button"]
PHONE_BAR = [*DEVICES, "more-button"]


class Keyboard:
    def __init__(self, hearth: HearthServer, browser: Browser, size: tuple[int, int]) -> None:
        created = hearth.create_session("Keyboard group", requires_agreement=True, admission="lobby")
        self.hearth, self.session_id, self.size = hearth, created["id"], size
        self.facilitator = make_person(browser, "Lead", created["facilitator_url"], viewport=size)
        self.kai = make_person(browser, "Kai", hearth.invite(self.session_id, "Kai")["url"], viewport=size)
        self.lou: QuietMembers | None = None

    @property
    def label(self) -> str:
        return f"{self.size[0]}x{self.size[1]}"

    @property
    def phone(self) -> bool:
        return self.size[0] <= 640

    @property
    def console(self) -> Page:
        return self.facilitator.page

    @property
    def room(self) -> Page:
        return self.kai.page

    def close(self) -> None:
        if self.lou:
            self.lou.close()
        self.kai.close()
        self.facilitator.close()


@pytest.fixture(scope="module", params=SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def kb(hearth: HearthServer, browser: Browser, request: pytest.FixtureRequest) -> Iterator[Keyboard]:
    k = Keyboard(hearth, browser, request.param)
    yield k
    k.close()


def clean(kb: Keyboard, person: Person, screen: str) -> None:
    """axe finds nothing on this screen; a screenshot of it is kept."""
    assert axe_clean(person.page) == [], f"{person.name}'s {screen} at {kb.label}"
    person.screenshot(f"keyboard-{screen.replace(' ', '-').replace(',', '')}-{kb.label}")


def test_keyboard_member_agrees_and_joins(kb: Keyboard) -> None:
    kb.facilitator.open()
    expect(kb.console.get_by_test_id("join-button")).to_be_enabled()
    assert focused(kb.console) == "h2:Before you join"  # a new screen takes focus to its heading
    tab_through(
        kb.console,
        [*DEVICE_STOPS, "join-button"],
    )
    kb.console.keyboard.press("Enter")
    expect(kb.console.get_by_test_id("console")).to_be_visible()
    assert focused(kb.console) == "h2:Facilitator console"

    room = kb.room
    kb.kai.open()
    expect(room.get_by_test_id("join-screen")).to_contain_text("You are joining as")
    assert focused(room) == "h2:Before you join"
    clean(kb, kb.kai, "join screen")
    tab_through(
        room,
        [*DEVICE_STOPS, "agree-checkbox"],
    )
    room.keyboard.press("Space")
    expect(room.get_by_test_id("agree-checkbox")).to_be_checked()
    tab_through(room, ["join-button"])
    room.keyboard.press("Enter")
    expect(room.get_by_test_id("lobby-waiting")).to_be_visible()
    assert focused(room) == "h2:You are in the waiting room"
    clean(kb, kb.kai, "waiting room")


def test_keyboard_facilitator_admits_both(kb: Keyboard) -> None:
    kb.lou = QuietMembers.seat(kb.hearth, kb.session_id, ["Lou"])
    console = kb.console
    expect(console.get_by_test_id("lobby-entry")).to_have_count(2)
    clean(kb, kb.facilitator, "console with people waiting")
    tab_through(console, ["admit-all", "admit-button"])
    assert console.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Admit Kai"
    console.keyboard.press("Enter")
    expect(kb.room.get_by_test_id("room")).to_be_visible()
    # Kai's row went: focus moved to the next row's Admit (Lou's), not back to the top of the page.
    expect(console.get_by_test_id("lobby-entry")).to_have_count(1)
    assert console.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Admit Lou"
    console.keyboard.press("Enter")
    expect(console.get_by_test_id("member-row")).to_have_count(2)
    assert focused(console).startswith("h3:Waiting room")


def test_keyboard_member_raises_a_hand_speaks_and_is_done(kb: Keyboard) -> None:
    room, console = kb.room, kb.console
    assert focused(room) == "h2:Group room"
    clean(kb, kb.kai, "room")
    tab_through(room, ["mic-toggle", "camera-toggle", "hand-button"])
    room.keyboard.press("Enter")
    expect(room.get_by_test_id("queue-position")).to_have_text("You are next in line")
    assert focused(room) == "hand-button"

    tab_through(console, ["floor-next"])  # from the waiting room's heading: the floor comes next
    console.keyboard.press("Enter")
    expect(room.get_by_test_id("floor-status")).to_contain_text("You have the floor")
    tab_through(room, ["release-button"])  # the hand waits (it says why); "I am done speaking" is next
    clean(kb, kb.kai, "room, holding the floor")
    room.keyboard.press("Enter")
    expect(room.get_by_test_id("floor-status")).to_have_text("Nobody has the floor")
    # The finished turn's button went; focus stays in the bar (moved there by the render that follows).
    room.wait_for_function(f"() => ({FOCUSED_JS})() === 'hand-button'", timeout=5_000)


def test_keyboard_member_nods_and_asks_for_help_which_the_facilitator_takes_up(kb: Keyboard) -> None:
    room, console = kb.room, kb.console
    # The facilitator gives Lou the floor: from "Next in queue", on to the people (Kai first, then Lou).
    tab_through(console, ["turn-seconds", "goaround-start", "give-floor", "member-menu", "give-floor"])
    assert console.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Give floor to Lou"
    console.keyboard.press("Enter")
    expect(room.get_by_test_id("floor-status")).to_contain_text("Lou has the floor")

    tab_through(room, ["nod-button"])
    room.keyboard.press("Enter")
    expect(console.get_by_test_id("nod-received")).to_contain_text("Kai relates")
    tab_through(room, ["help-button"])
    room.keyboard.press("Enter")
    expect(room.get_by_test_id("help-sent")).to_contain_text("A facilitator has been told")
    expect(console.get_by_test_id("help-alert")).to_contain_text("Kai is asking for help")
    clean(kb, kb.facilitator, "console with a help alert")
    # Focus is still on Lou's "Give floor" (Lou's row moved to the top of the people as the holder,
    # focus kept). The alert is first on the page: back up to it.
    assert console.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Give floor to Lou"
    tab_through(console, ["goaround-start", "turn-seconds", "floor-release", "help-dismiss"], back=True)
    console.keyboard.press("Enter")
    expect(room.get_by_test_id("help-sent")).to_contain_text("has seen your request")
    expect(console.get_by_test_id("help-alert")).to_have_count(0)


def test_keyboard_facilitator_moves_the_phase_mutes_removes_and_ends(kb: Keyboard) -> None:
    room, console = kb.room, kb.console
    # The alert went with the request; focus went to the console's heading, the top of its content.
    assert focused(console) == "h2:Facilitator console"
    tab_through(
        console,
        ["floor-release", "turn-seconds", "goaround-start", "give-floor", "member-menu", "give-floor", "member-menu"],
    )  # Lou (the holder) heads the people, then Kai
    assert console.evaluate("() => document.activeElement.getAttribute('aria-label')") == "More actions for Kai"
    console.keyboard.press("Enter")  # the menu opens on its first action
    assert focused(console) == "mute-button"
    console.keyboard.press("Escape")
    assert focused(console) == "member-menu"
    console.keyboard.press("Enter")
    console.keyboard.press("Enter")  # Mute
    expect(room.get_by_test_id("mic-toggle")).to_have_text("Muted by facilitator")
    assert focused(console) == "member-menu"  # back on the menu's button

    tab_through(console, ["give-floor", "member-menu"], back=True)  # Lou's row, above Kai's
    assert console.evaluate("() => document.activeElement.getAttribute('aria-label')") == "More actions for Lou"
    console.keyboard.press("Enter")
    tab_through(console, ["side-start", "message-button", "lobby-send-button", "remove-button"])
    console.keyboard.press("Enter")
    assert focused(console) == "confirm-no"  # the safe choice first
    clean(kb, kb.facilitator, "remove dialog")
    tab_through(console, ["confirm-yes"])
    console.keyboard.press("Enter")
    expect(console.get_by_test_id("member-row")).to_have_count(1)
    # Lou's row went with Lou: focus moved to the row now in its place, Kai's.
    assert console.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Give floor to Kai"
    tab_through(console, ["member-menu"])

    tab_through(
        console,
        ["note-to", "note-text", "note-send", *(PHONE_BAR if kb.phone else LAPTOP_BAR), "safety-ask-all", "phase-next"],
    )
    console.keyboard.press("Enter")
    expect(room.get_by_test_id("phase-status")).to_contain_text("focused conversation")
    tab_through(
        console,
        [
            "current-mode",
            "summary:Change the agenda",
            "breakout-size",
            "breakout-minutes",
            "breakout-start",
            "lock-button",
            "end-button",
        ],
    )
    console.keyboard.press("Enter")
    assert focused(console) == "confirm-no"
    tab_through(console, ["confirm-yes"])
    console.keyboard.press("Enter")
    expect(room.get_by_test_id("end-ended")).to_be_visible()
    expect(console.get_by_test_id("end-ended")).to_be_visible()
    clean(kb, kb.kai, "end screen")
    clean(kb, kb.facilitator, "end screen")
