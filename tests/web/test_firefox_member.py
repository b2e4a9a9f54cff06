"""One member in Firefox ESR through a whole core session, the facilitator in Chromium: agree, wait,
be admitted, publish and receive video with frames advancing, raise a hand and take the floor, be
gated in a strict phase (the server forwards none of Firefox's audio until it holds the floor), ask
for help and hear it acknowledged, and see the end.

Firefox runs as Debian's firefox-esr, driven over WebDriver BiDi by puppeteer-core (see
tests/web/firefox_driver.mjs); the test fails when either is missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import make_person, set_floor_mode
from tests.web.firefox import FirefoxPerson
from tests.web.hearth_process import HearthServer
from tests.web.people import Person

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Audio packets the facilitator's page has received from `name` so far (its subscriber's inbound-rtp).
AUDIO_PACKETS_JS = """async (name) => {
  const p = hearth.participants.find((x) => x.name === name);
  const tracks = new Set();
  for (const id of p?.stream_ids ?? []) {
    for (const t of hearth.client.streams.get(id)?.getAudioTracks() ?? []) tracks.add(t.id);
  }
  let packets = 0;
  for (const s of (await hearth.client.subscriber.pc.getStats()).values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'audio' && tracks.has(s.trackIdentifier)) packets += s.packetsReceived;
  }
  return tracks.size ? packets : null;
}"""
# The element is drawn wholly inside the window (not scrolled away, not hidden).
IN_VIEW_JS = """() => {
  const r = document.querySelector('[data-testid="%s"]')?.getBoundingClientRect();
  return Boolean(r && r.width > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth);
}"""
QUIET_MS = 1500  # Opus sends 50 packets a second: none in this long means the server holds them back


class Mixed:
    def __init__(self, hearth: HearthServer, browser: Browser) -> None:
        created = hearth.create_session("Firefox evening", requires_agreement=True, admission="lobby")
        self.facilitator = make_person(browser, "Lead", created["facilitator_url"])
        self.fox = FirefoxPerson("Fox", hearth.invite(created["id"], "Fox")["url"])

    @property
    def console(self) -> Page:
        return self.facilitator.page

    def close(self) -> None:
        self.fox.close()
        self.facilitator.close()


@pytest.fixture(scope="module")
def mixed(hearth: HearthServer, browser: Browser) -> Iterator[Mixed]:
    m = Mixed(hearth, browser)
    yield m
    m.close()


def in_view(fox: FirefoxPerson, *testids: str) -> None:
    for testid in testids:
        fox.wait(IN_VIEW_JS % testid, timeout_ms=10_000)


def audio_packets(person: Person, name: str) -> int:
    packets = person.page.evaluate(AUDIO_PACKETS_JS, name)
    assert packets is not None, f"{person.name} has no audio track from {name}"
    return int(packets)


def test_a_firefox_member_agrees_waits_and_is_admitted(mixed: Mixed) -> None:
    assert mixed.fox.version.startswith("firefox/"), mixed.fox.version
    mixed.facilitator.open()
    mixed.facilitator.join()
    mixed.fox.open()
    mixed.fox.join()
    mixed.fox.wait_text("lobby-waiting", "Waiting to be admitted")
    entry = mixed.console.get_by_test_id("lobby-entry").filter(has_text="Fox")
    expect(entry).to_contain_text("Agreed to the guidelines")
    entry.get_by_test_id("admit-button").click()
    mixed.fox.wait("() => document.querySelector('[data-testid=\"room\"]') !== null")


def test_firefox_publishes_and_receives_video_with_frames_advancing(mixed: Mixed) -> None:
    mixed.facilitator.wait_video_live("Fox")  # Firefox's camera, as Chromium receives it
    lead = mixed.console.get_by_test_id("self-tile").get_attribute("data-name") or ""
    mixed.fox.wait_video_live(lead)  # Chromium's camera, as Firefox receives it
    mixed.fox.at_sizes("firefox-room", lambda: in_view(mixed.fox, "help-button", "hand-button", "mic-toggle"))
    mixed.facilitator.screenshot("firefox-console")


def test_firefox_raises_a_hand_and_takes_the_floor(mixed: Mixed) -> None:
    mixed.fox.click("hand-button")
    mixed.fox.wait_text("queue-position", "You are next in line")
    row = mixed.console.get_by_test_id("member-row").filter(has_text="Fox")
    expect(row.get_by_test_id("hand-position")).to_have_text("Hand 1st")
    mixed.console.get_by_test_id("floor-next").click()
    mixed.fox.wait_text("floor-status", "You have the floor")


def test_firefox_audio_is_gated_in_a_strict_phase(mixed: Mixed) -> None:
    console, row = mixed.console, mixed.console.get_by_test_id("member-row").filter(has_text="Fox")
    set_floor_mode(console, "strict")
    expect(row.get_by_test_id("audible")).to_have_attribute("data-audible", "true")  # Fox holds the floor
    flowing = audio_packets(mixed.facilitator, "Fox")
    console.wait_for_timeout(QUIET_MS)
    assert audio_packets(mixed.facilitator, "Fox") > flowing, "Fox is not heard while holding the floor"

    console.get_by_test_id("floor-release").click()  # nobody holds the floor: only facilitators are heard
    expect(row.get_by_test_id("audible")).to_have_text("Not heard (strict)")
    mixed.fox.wait_text("strict-notice", "One voice at a time")
    mixed.fox.at_sizes("firefox-strict", lambda: in_view(mixed.fox, "strict-notice", "help-button"))
    console.wait_for_timeout(500)  # packets already on their way when the gate closed
    held = audio_packets(mixed.facilitator, "Fox")
    console.wait_for_timeout(QUIET_MS)
    assert audio_packets(mixed.facilitator, "Fox") == held, "the server forwarded Fox's audio in a strict phase"

    row.get_by_test_id("give-floor").click()
    expect(row.get_by_test_id("audible")).to_have_attribute("data-audible", "true")
    reopened = audio_packets(mixed.facilitator, "Fox")
    console.wait_for_timeout(QUIET_MS)
    assert audio_packets(mixed.facilitator, "Fox") > reopened, "Fox's audio did not come back with the floor"
    set_floor_mode(console, "hands")


def test_firefox_asks_for_help_and_hears_it_acknowledged(mixed: Mixed) -> None:
    mixed.fox.click("help-button")
    alert = mixed.console.get_by_test_id("help-alert")
    expect(alert).to_contain_text("Fox is asking for help")
    alert.get_by_test_id("help-dismiss").click()
    mixed.fox.wait_text("help-sent", "has seen your request")
    mixed.fox.at_sizes("firefox-help-acknowledged", lambda: in_view(mixed.fox, "help-button"))


def test_firefox_sees_the_session_end(mixed: Mixed) -> None:
    mixed.console.get_by_test_id("end-button").click()
    mixed.console.get_by_test_id("confirm-yes").click()
    mixed.fox.wait_text("end-ended", "The session has ended")
    mixed.fox.at_sizes("firefox-ended", lambda: in_view(mixed.fox, "end-ended"))
