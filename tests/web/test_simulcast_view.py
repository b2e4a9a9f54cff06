"""Simulcast layers follow the tiles a page shows, in Chromium: the page tells the server its tile
sizes (``media.view``, from ``web/ui/grid.js``); a page whose tiles are small receives a publisher's
low layer (half size), and the same page in a larger window, with the publisher large as the speaker,
receives the high layer (full size). Frame sizes are the receiving connection's ``getStats``.

A facilitator and two members (Sam publishes the fake camera in two layers, Alex watches).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.web.conftest import make_person
from tests.web.hearth_process import HearthServer
from tests.web.people import Person

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HALF_WIDTH, FULL_WIDTH = 320, 640  # the page captures 640x480; the low layer is half of it

# The frame width the receiving connection decodes for one tile's video, and the tile's own width.
RECEIVED_JS = """async ([name]) => {
  const tile = document.querySelector(`[data-testid="tile"][data-name="${name}"]`);
  const track = tile?.querySelector('video')?.srcObject?.getVideoTracks?.()[0];
  const pc = window.hearth?.client?.subscriber?.pc;
  if (!track || !pc) return null;
  for (const r of (await pc.getStats()).values()) {
    if (r.type === 'inbound-rtp' && r.kind === 'video' && r.trackIdentifier === track.id) {
      return { width: r.frameWidth ?? 0, decoded: r.framesDecoded ?? 0, tile: tile.getBoundingClientRect().width };
    }
  }
  return null;
}"""


class Pair:
    def __init__(self, hearth: HearthServer, browser: Browser) -> None:
        created = hearth.create_session("Friday group", requires_agreement=False, admission="open")
        self.facilitator = make_person(browser, "Lead", created["facilitator_url"])
        self.sam = make_person(browser, "Sam", hearth.invite(created["id"], "Sam")["url"])
        self.alex = make_person(browser, "Alex", hearth.invite(created["id"], "Alex")["url"])

    def close(self) -> None:
        for person in (self.facilitator, self.sam, self.alex):
            person.close()


@pytest.fixture(scope="module")
def pair(hearth: HearthServer, browser: Browser) -> Iterator[Pair]:
    p = Pair(hearth, browser)
    p.facilitator.open()
    p.facilitator.join()
    expect(p.facilitator.page.get_by_test_id("console")).to_be_visible()
    for member in (p.sam, p.alex):
        member.open()
        member.join()
        expect(member.page.get_by_test_id("room")).to_be_visible()
    yield p
    p.close()


def wait_received(person: Person, name: str, width: int, timeout_s: float = 45) -> dict[str, Any]:
    """Until ``person`` has decoded a second more of ``name``'s video at ``width`` (24 frames); the last
    stats seen."""
    seen: list[Any] = []
    first: dict[str, Any] | None = None
    deadline = person.page.evaluate("() => performance.now()") + timeout_s * 1000
    while True:
        now = person.page.evaluate(RECEIVED_JS, [name])
        seen.append(now)
        if now and now["width"] == width:
            first = first or now
            if now["decoded"] >= first["decoded"] + 24:
                return dict(now)
        else:
            first = None  # back and forth between layers starts the count again
        assert person.page.evaluate("() => performance.now()") < deadline, f"never {width} px: {seen[-3:]}"
        person.page.wait_for_timeout(200)


def test_a_large_speaker_tile_receives_the_high_layer_and_small_tiles_the_low_one(pair: Pair) -> None:
    """The switch down is the view's doing: the link had room for the high layer all along."""
    pair.facilitator.page.get_by_test_id("member-row").filter(has_text="Sam").get_by_test_id("give-floor").click()
    expect(pair.alex.tile("Sam")).to_have_class(re.compile(r"\bspotlight\b"), timeout=20_000)
    pair.alex.wait_video_live("Sam")
    large = wait_received(pair.alex, "Sam", FULL_WIDTH)
    assert large["tile"] >= 400, large  # grid.js's SMALL_TILE_PX: what the page calls a large tile
    pair.alex.screenshot("simulcast-large-speaker")
    page = pair.alex.page
    page.set_viewport_size({"width": 480, "height": 720})  # a small window, every tile the same size
    if not page.get_by_test_id("speaker-view-toggle").is_visible():
        page.get_by_test_id("more-button").click()
    page.get_by_test_id("speaker-view-toggle").click()
    expect(pair.alex.tile("Sam")).not_to_have_class(re.compile(r"\bspotlight\b"))
    small = wait_received(pair.alex, "Sam", HALF_WIDTH)
    assert small["tile"] < 400, small
    pair.alex.screenshot("simulcast-small-tiles")
    print(f"large tile {large}, small tile {small}")


# What Sam's page encodes: each simulcast encoding's ``active`` as the page set it, and as the sending
# connection's stats report it.
SENDING_JS = """async () => {
  const publisher = window.hearth?.client?.publisher;
  if (!publisher) return null;
  const set = Object.fromEntries(publisher.video.sender.getParameters().encodings.map((e) => [e.rid, e.active]));
  const stats = {};
  for (const r of (await publisher.pc.getStats()).values()) {
    if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid) stats[r.rid] = r.active;
  }
  return { set, stats };
}"""


def wait_sending(person: Person, high: bool, timeout_s: float = 60) -> dict[str, Any]:
    """Until ``person``'s page encodes its high layer (``high``) or not, by its parameters and its stats."""
    seen: list[Any] = []
    deadline = person.page.evaluate("() => performance.now()") + timeout_s * 1000
    while True:
        now = person.page.evaluate(SENDING_JS)
        seen.append(now)
        if now and now["set"].get("hi") is high and now["stats"].get("hi") is high and now["set"].get("lo"):
            return dict(now)
        assert person.page.evaluate("() => performance.now()") < deadline, f"high layer never {high}: {seen[-3:]}"
        person.page.wait_for_timeout(500)


def speaker_view(person: Person, on: bool) -> None:
    """Switch ``person``'s grid to speaker view (``on``) or same-size tiles, when it is not already."""
    page = person.page
    grid = page.get_by_test_id("video-grid")
    if grid.evaluate("g => g.classList.contains('speaker')") is on:
        return
    if not page.get_by_test_id("speaker-view-toggle").is_visible():
        page.get_by_test_id("more-button").click()
    page.get_by_test_id("speaker-view-toggle").click()
    expect(grid).to_have_class(re.compile(r"\bspeaker\b") if on else re.compile(r"^(?!.*\bspeaker\b)"))


def test_a_publisher_nobody_shows_large_stops_encoding_its_high_layer_and_starts_when_someone_does(
    pair: Pair,
) -> None:
    """Every page shows Sam small: after a while the server asks Sam's page for the low layer alone
    (``video.layers``) and it stops encoding the high one (a phone's CPU and uplink); Alex's page
    showing Sam large again asks it back, and Alex receives it."""
    for person in (pair.facilitator, pair.alex):
        person.page.set_viewport_size({"width": 480, "height": 720})
        speaker_view(person, False)
    wait_received(pair.alex, "Sam", HALF_WIDTH)
    stopped = wait_sending(pair.sam, high=False)
    pair.alex.page.set_viewport_size({"width": 1280, "height": 800})
    speaker_view(pair.alex, True)
    expect(pair.alex.tile("Sam")).to_have_class(re.compile(r"\bspotlight\b"))
    started = wait_sending(pair.sam, high=True)
    large = wait_received(pair.alex, "Sam", FULL_WIDTH)
    print(f"stopped {stopped}, started {started}, received {large}")
