"""What people know from other video tools, in Chromium: choosing camera, microphone and speaker
(with a test sound) before joining; the speaker shown large; each tile saying when a connection is
weak or a video frozen, so a facilitator can tell a quiet member from a frozen one; audio only for
a weak link.

A facilitator and two members (Alex, Sam), all Chromium pages sending the fake camera.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import make_person
from tests.web.hearth_process import HearthServer
from tests.web.people import OWN_SAMPLED_JS, OWN_WEAK_JS, Person, turn_status_at_top

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPOTLIT = re.compile(r"\bspotlight\b")


class Trio:
    def __init__(self, hearth: HearthServer, browser: Browser) -> None:
        created = hearth.create_session("Thursday group", requires_agreement=False, admission="open")
        self.facilitator = make_person(browser, "Lead", created["facilitator_url"])
        self.alex = make_person(browser, "Alex", hearth.invite(created["id"], "Alex")["url"])
        self.sam = make_person(browser, "Sam", hearth.invite(created["id"], "Sam")["url"])
        self.lead_name = ""

    @property
    def console(self) -> Page:
        return self.facilitator.page

    def close(self) -> None:
        for person in (self.facilitator, self.alex, self.sam):
            person.close()


@pytest.fixture(scope="module")
def trio(hearth: HearthServer, browser: Browser) -> Iterator[Trio]:
    t = Trio(hearth, browser)
    t.facilitator.open()
    t.facilitator.join()
    t.lead_name = t.console.get_by_test_id("self-tile").get_attribute("data-name") or ""
    yield t
    t.close()


def enter(person: Person) -> None:
    if not person.page.get_by_test_id("room").is_visible():
        person.open()
        person.join()
        expect(person.page.get_by_test_id("room")).to_be_visible()


def test_before_joining_a_member_chooses_devices_and_hears_a_test_sound(trio: Trio) -> None:
    page = trio.alex.page
    trio.alex.open()
    picker = page.get_by_test_id("device-picker")
    expect(picker).to_have_attribute("open", "")
    camera, mic = page.get_by_test_id("camera-select"), page.get_by_test_id("mic-select")
    expect(camera.locator("option")).not_to_have_count(0)
    expect(mic.locator("option")).not_to_have_count(0)
    assert camera.locator("option").first.inner_text().strip(), "a camera without a name"
    camera.select_option(index=0)  # choosing a camera keeps the preview live
    page.wait_for_function("() => document.querySelector('[data-testid=preview-video]').videoWidth > 0")
    page.get_by_test_id("speaker-test").click()
    expect(page.get_by_test_id("speaker-test-status")).to_have_text("Playing a test sound…")
    expect(page.get_by_test_id("speaker-test-status")).to_contain_text("Did you hear a tone?")
    trio.alex.at_sizes("device-picker", lambda: expect(picker).to_be_visible())
    trio.alex.join()
    expect(page.get_by_test_id("room")).to_be_visible()


def test_the_floor_holder_is_shown_large_and_everyone_same_size_on_request(trio: Trio) -> None:
    enter(trio.alex)
    enter(trio.sam)
    page = trio.sam.page
    trio.console.get_by_test_id("member-row").filter(has_text="Alex").get_by_test_id("give-floor").click()
    alex_tile = trio.sam.tile("Alex")
    expect(alex_tile).to_have_class(SPOTLIT)
    trio.sam.wait_video_live("Alex")

    def speaker_large() -> None:
        expect(alex_tile).to_be_in_viewport()
        big = alex_tile.bounding_box()
        small = trio.sam.tile(trio.lead_name).bounding_box()
        assert big and small and big["width"] > 1.5 * small["width"], (big, small)

    trio.sam.at_sizes("speaker-view", speaker_large)
    if not page.get_by_test_id("speaker-view-toggle").is_visible():
        page.get_by_test_id("more-button").click()
    page.get_by_test_id("speaker-view-toggle").click()
    expect(alex_tile).not_to_have_class(SPOTLIT)
    expect(page.get_by_test_id("speaker-view-toggle")).to_have_attribute("aria-pressed", "false")
    page.get_by_test_id("speaker-view-toggle").click()


def test_a_frozen_video_is_told_apart_from_a_quiet_member(trio: Trio) -> None:
    enter(trio.alex)
    enter(trio.sam)
    console = trio.console
    trio.facilitator.wait_video_live("Alex")
    trio.facilitator.wait_video_live("Sam")
    # Sam is quiet (microphone off) and fine; Alex's camera stops reaching the server without a word.
    if trio.sam.page.get_by_test_id("mic-toggle").get_attribute("data-on") == "true":
        trio.sam.page.get_by_test_id("mic-toggle").click()
    trio.alex.page.evaluate("() => hearth.client.publisher.video.sender.replaceTrack(null)")
    expect(trio.facilitator.tile("Alex").get_by_test_id("tile-quality")).to_have_text("Video frozen", timeout=20_000)
    row = console.get_by_test_id("member-row").filter(has_text="Alex")
    expect(row.get_by_test_id("connection")).to_have_text("Video frozen")
    expect(trio.facilitator.tile("Sam").get_by_test_id("tile-quality")).to_have_text("")
    expect(console.get_by_test_id("member-row").filter(has_text="Sam").get_by_test_id("connection")).to_have_text("")

    def frozen_told() -> None:
        expect(trio.facilitator.tile("Alex").get_by_test_id("tile-quality")).to_have_text("Video frozen")
        expect(trio.facilitator.tile("Alex").get_by_test_id("tile-quality")).to_be_visible()
        expect(row.get_by_test_id("connection")).to_have_text("Video frozen")

    trio.facilitator.at_sizes("quality-frozen", frozen_told)
    trio.alex.page.evaluate("() => hearth.client.publisher.video.sender.replaceTrack(hearth.local.videoTrack)")
    expect(trio.facilitator.tile("Alex").get_by_test_id("tile-quality")).to_have_text("", timeout=20_000)


def test_audio_only_turns_video_off_both_ways_and_back(trio: Trio) -> None:
    enter(trio.sam)
    page = trio.sam.page
    expect(page.get_by_test_id("camera-toggle")).to_have_attribute("data-on", "true")
    page.get_by_test_id("audio-only-toggle").click()
    expect(page.get_by_test_id("audio-only-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("camera-toggle")).to_have_attribute("data-on", "false")
    expect(page.get_by_test_id("own-quality")).to_contain_text("Audio only")
    expect(trio.sam.tile("Alex")).to_have_class(re.compile(r"\bno-video\b"))
    row = trio.console.get_by_test_id("member-row").filter(has_text="Sam")
    expect(row.get_by_test_id("connection")).to_have_text("Audio only")  # the server knows

    def told_and_turns_in_view() -> None:
        expect(page.get_by_test_id("own-quality")).to_be_visible()
        turn_status_at_top(page)

    trio.sam.at_sizes("audio-only", told_and_turns_in_view)
    page.get_by_test_id("audio-only-switch").click()
    expect(page.get_by_test_id("camera-toggle")).to_have_attribute("data-on", "true")
    expect(row.get_by_test_id("connection")).to_have_text("")
    trio.facilitator.wait_video_live("Sam")


def test_a_weak_link_notice_leaves_the_phase_and_the_floor_one_line_each(trio: Trio) -> None:
    """The notice's button makes it taller than a pill: the pills beside it keep their own height
    (under CI's load Chromium's own link reads weak, and the phase pill had stretched to 49 px)."""
    enter(trio.sam)
    page = trio.sam.page
    page.evaluate(OWN_WEAK_JS)
    expect(page.get_by_test_id("own-quality")).to_contain_text("Your connection is weak")

    def told_and_turns_in_view() -> None:
        expect(page.get_by_test_id("own-quality")).to_be_visible()
        turn_status_at_top(page)

    try:
        trio.sam.at_sizes("weak-link", told_and_turns_in_view)
    finally:
        page.evaluate(OWN_SAMPLED_JS)


OPUS_FMTP_JS = """() => {
  const pc = hearth.client.publisher?.pc;
  if (!pc || pc.connectionState !== 'connected') return null;
  const opus = pc.getSenders().find((s) => s.track?.kind === 'audio')?.getParameters().codecs
    ?.find((c) => c.mimeType.toLowerCase() === 'audio/opus');
  return opus?.sdpFmtpLine ?? null;
}"""


def test_a_member_s_microphone_is_sent_with_in_band_fec_and_dtx(trio: Trio) -> None:
    enter(trio.alex)
    line = trio.alex.page.wait_for_function(OPUS_FMTP_JS, timeout=20_000).json_value()
    params = dict(item.partition("=")[::2] for item in line.split(";"))
    assert params.get("useinbandfec") == "1" and params.get("usedtx") == "1", line
