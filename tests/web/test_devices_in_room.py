"""Choosing another camera or microphone inside the room (#15), in Chromium.

A facilitator and a member (Alex), both Chromium pages; this module's browser has two fake cameras
(`device-count=2`), so there is another camera to switch to. The "Devices" panel (with the speaker
test, as before joining) swaps the track in
place: the facilitator keeps receiving Alex's video (frames advancing after the switch), Alex's page
sends no new rtc.publish (same publisher, same connection: replaceTrack, no renegotiation), a
microphone that was off stays off, and the choice is still there on the join screen after a rejoin.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.web.conftest import make_person
from tests.web.hearth_process import CHROMIUM, CHROMIUM_ARGS, HearthServer
from tests.web.people import Person

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TWO_CAMERAS = [
    "--use-fake-device-for-media-stream=device-count=2" if a == "--use-fake-device-for-media-stream" else a
    for a in CHROMIUM_ARGS
]

# How many offers this page sent (media-link.js marks each rtc.publish), and whether the sender that
# went out first is still the one sending, now with the local camera's current track.
PUBLISHES_JS = "() => performance.getEntriesByName('hearth:publish').length"
REMEMBER_PUBLISHER_JS = "() => { window.firstPublisher = hearth.client.publisher; }"
SAME_PUBLISHER_JS = """() => {
  const p = hearth.client.publisher;
  return p === window.firstPublisher && p.pc.connectionState === 'connected'
    && p.pc.signalingState === 'stable' && p.video.sender.track === hearth.local.videoTrack;
}"""
CAMERA_JS = "() => hearth.local.videoTrack?.getSettings().deviceId ?? null"


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=TWO_CAMERAS)
    yield browser
    browser.close()


class Pair:
    def __init__(self, hearth: HearthServer, browser: Browser) -> None:
        created = hearth.create_session("Tuesday group", requires_agreement=False, admission="open")
        self.facilitator = make_person(browser, "Lead", created["facilitator_url"])
        self.alex = make_person(browser, "Alex", hearth.invite(created["id"], "Alex")["url"])

    def close(self) -> None:
        self.facilitator.close()
        self.alex.close()


@pytest.fixture(scope="module")
def pair(hearth: HearthServer, browser: Browser) -> Iterator[Pair]:
    p = Pair(hearth, browser)
    for person in (p.facilitator, p.alex):
        person.open()
        person.join()
    expect(p.alex.page.get_by_test_id("room")).to_be_visible()
    yield p
    p.close()


def open_devices(person: Person) -> None:
    """Press "Devices" (behind "More" on a phone); focus moves to the camera's select."""
    page = person.page
    if page.get_by_test_id("devices-panel").is_visible():
        page.keyboard.press("Escape")
    expect(page.get_by_test_id("devices-panel")).to_be_hidden()
    button = page.get_by_test_id("devices-button")
    if not button.is_visible():
        page.get_by_test_id("more-button").click()
    expect(button).to_have_accessible_name("Devices")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_test_id("devices-panel")).to_be_in_viewport()
    expect(page.get_by_test_id("devices-panel").get_by_test_id("camera-select")).to_be_focused()


def other_camera(page: Page) -> str:
    select = page.get_by_test_id("devices-panel").get_by_test_id("camera-select")
    expect(select.locator("option")).to_have_count(2)
    ids = select.locator("option").evaluate_all("(options) => options.map((o) => o.value)")
    now = page.evaluate(CAMERA_JS)
    assert now in ids, (now, ids)
    return next(i for i in ids if i != now)


def test_a_member_switches_camera_in_the_room_without_renegotiating(pair: Pair) -> None:
    page = pair.alex.page
    pair.facilitator.wait_video_live("Alex")
    page.wait_for_function("() => hearth.client.publisher?.pc.connectionState === 'connected'")
    page.evaluate(REMEMBER_PUBLISHER_JS)
    publishes = page.evaluate(PUBLISHES_JS)
    assert publishes >= 1
    if page.get_by_test_id("mic-toggle").get_attribute("data-on") == "true":
        page.get_by_test_id("mic-toggle").click()  # a microphone turned off stays off through a switch
    expect(page.get_by_test_id("mic-toggle")).to_have_attribute("data-on", "false")
    switched: list[str] = []

    def switch_camera() -> None:
        open_devices(pair.alex)
        target = other_camera(page)
        page.get_by_test_id("devices-panel").get_by_test_id("camera-select").select_option(target)
        page.wait_for_function(f"() => ({CAMERA_JS})() === {target!r}")
        switched.append(target)
        # The speaker can be tried from the room too, as before joining.
        panel = page.get_by_test_id("devices-panel")
        panel.get_by_test_id("speaker-test").click()
        expect(panel.get_by_test_id("speaker-test-status")).to_contain_text("Did you hear a tone?")
        expect(panel.get_by_test_id("speaker-test")).to_be_focused()  # the keyboard keeps its place
        # The panel sits above the bar: help and the hand stay on screen, at either size.
        expect(page.get_by_test_id("help-button")).to_be_in_viewport()
        expect(page.get_by_test_id("hand-button")).to_be_in_viewport()
        expect(page.get_by_test_id("camera-toggle")).to_have_attribute("data-on", "true")

    pair.alex.at_sizes("devices-in-room", switch_camera)
    assert len(switched) == 2 and switched[0] != switched[1], switched
    pair.facilitator.wait_video_live("Alex")  # frames from the newly chosen camera keep coming
    assert page.evaluate(SAME_PUBLISHER_JS), "the publisher was replaced or renegotiated"
    assert page.evaluate(PUBLISHES_JS) == publishes, "switching the camera sent a new rtc.publish"
    expect(page.get_by_test_id("mic-toggle")).to_have_attribute("data-on", "false")
    assert page.evaluate("() => hearth.local.audioTrack?.enabled") is False
    # Escape closes the panel and gives focus back to "Devices".
    open_devices(pair.alex)
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("devices-panel")).to_be_hidden()
    expect(page.get_by_test_id("devices-button")).to_be_focused()
    # On a phone "Devices" is behind "More", which has closed: focus goes back to "More".
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        open_devices(pair.alex)
        page.keyboard.press("Escape")
        expect(page.get_by_test_id("devices-panel")).to_be_hidden()
        expect(page.get_by_test_id("more-button")).to_be_focused()
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


def test_the_camera_chosen_in_the_room_is_kept_for_a_rejoin(pair: Pair) -> None:
    page = pair.alex.page
    chosen = page.evaluate(CAMERA_JS)
    assert chosen
    page.get_by_test_id("leave-button").click()
    page.get_by_test_id("confirm-yes").click()
    page.get_by_test_id("rejoin-button").click()
    expect(page.get_by_test_id("join-screen")).to_be_visible()
    expect(page.get_by_test_id("camera-select")).to_have_value(chosen)
    pair.alex.join()
    expect(page.get_by_test_id("room")).to_be_visible()
    page.wait_for_function(f"() => ({CAMERA_JS})() === {chosen!r}")
    pair.facilitator.wait_video_live("Alex")
