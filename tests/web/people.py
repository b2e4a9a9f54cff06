"""One browser context per simulated person, with the few page actions the tests share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import BrowserContext, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

SIZES = ((1280, 800), (390, 844))  # a laptop and a phone (iPhone 12-15 size), CSS pixels

# The page keeps its app out of reach of other scripts; a test asks for it before the page loads.
TEST_HOOK_JS = "window.hearthTestHook = (app) => { window.hearth = app; };"

# How many decoded frames a tile must show, and for how long it must keep growing, to count as live.
FRAMES_JS = """([name]) => {
  const v = document.querySelector(`[data-testid="tile"][data-name="${name}"] video`);
  return v ? {width: v.videoWidth, frames: v.hearthFrames ?? 0, time: v.currentTime} : null;
}"""
LIVE_JS = """([name, min]) => {
  const v = document.querySelector(`[data-testid="tile"][data-name="${name}"] video`);
  return Boolean(v && v.videoWidth > 0 && (v.hearthFrames ?? 0) >= min);
}"""

LIVE_FRAMES = 5  # frames a live tile shows after its first three

# Where a tile's media stands, for a failure message: the socket, the keys, the receiving connection, the tile.
MEDIA_STATE_JS = """([name]) => {
  const app = window.hearth, client = app?.client, sub = client?.subscriber, e2ee = client?.e2ee;
  const v = document.querySelector(`[data-testid="tile"][data-name="${name}"] video`);
  const me = client?.session?.participants?.find((p) => p.name === name);
  return {
    status: client?.status, url: client?.socket?.io?.uri, revision: client?.revision,
    publisher: client?.publisher ? (client.publisher.pc?.connectionState ?? 'made') : null,
    publishing: Boolean(client?.publishing), backoff: Boolean(client?.backoff), me: client?.you?.status,
    subscriber: sub ? (sub.pc?.connectionState ?? 'made') : null,
    streams: client ? [...client.streams.keys()] : null,
    e2ee: e2ee ? {mode: e2ee.mode, status: e2ee.status, keyId: e2ee.keyId} : null,
    them: me ? {status: me.status, connected: me.connected, streams: me.stream_ids} : null,
    tile: v ? {width: v.videoWidth, frames: v.hearthFrames ?? 0, paused: v.paused, ready: v.readyState} : null,
  };
}"""

# This page's own link read as weak (a sample's loss), the monitor stopped so no sample reads it again
# (CI's load makes Chromium's own link read weak at times: a test makes it so at once, not by chance).
OWN_WEAK_JS = """() => {
  hearth.quality.stop();
  hearth.quality.own = {quality: 'weak', loss: 0.08, rtt: 0.05};
  hearth.quality.dispatchEvent(new Event('change'));
}"""
OWN_SAMPLED_JS = "() => { hearth.quality.start(); return hearth.quality.sample(); }"

# Every text the live region takes, kept in order for the test to read.
HEAR_JS = """(() => {
  window.heard = [];
  const watch = () => {
    const region = document.getElementById('announcer');
    if (!region) return setTimeout(watch, 20);
    new MutationObserver(() => { if (region.textContent) window.heard.push(region.textContent); })
      .observe(region, {childList: true, characterData: true, subtree: true});
  };
  document.addEventListener('DOMContentLoaded', watch);
})();"""


@dataclass
class Person:
    name: str
    url: str
    context: BrowserContext
    page: Page

    def open(self) -> None:
        self.page.goto(self.url)
        expect(self.page.get_by_test_id("join-screen")).to_be_visible()

    def join(self) -> None:
        """Accept the agreement (when asked) and press join."""
        expect(self.page.get_by_test_id("join-screen")).to_contain_text("You are joining as")  # welcomed
        agreement = self.page.get_by_test_id("agreement")
        button = self.page.get_by_test_id("join-button")
        if agreement.is_visible():
            self.page.get_by_test_id("agree-checkbox").check()
        expect(button).to_be_enabled(timeout=10_000)
        button.click()

    def tile(self, name: str) -> Locator:
        return self.page.locator(f'[data-testid="tile"][data-name="{name}"]')

    def video_of(self, name: str) -> dict[str, float] | None:
        result: dict[str, float] | None = self.page.evaluate(FRAMES_JS, [name])
        return result

    def wait_video_live(self, name: str, timeout_ms: float = 30_000) -> None:
        """videoWidth > 0 and frames keep coming: LIVE_FRAMES more after the first three (waited
        for as an event: a loaded machine may hold a few frames back, a frozen picture sends none)."""
        try:
            self.page.wait_for_function(LIVE_JS, arg=[name, 3], timeout=timeout_ms)
        except PlaywrightTimeoutError:
            raise AssertionError(f"{self.name} never saw live video from {name}: {self.media_state(name)}") from None
        before = self.video_of(name)
        assert before, f"{self.name} lost the tile of {name}"
        try:
            self.page.wait_for_function(LIVE_JS, arg=[name, before["frames"] + LIVE_FRAMES], timeout=timeout_ms)
        except PlaywrightTimeoutError:
            raise AssertionError(
                f"{self.name}: frames from {name} stopped at {before['frames']}: {self.media_state(name)}"
            ) from None

    def media_state(self, name: str) -> object:
        """What this page knows of its own media and of `name`'s (for a failure's message)."""
        return self.page.evaluate(MEDIA_STATE_JS, [name])

    def screenshot(self, label: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{label}-{self.name.lower()}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def at_sizes(self, label: str, check: Callable[[], None] = lambda: None) -> None:
        """At a laptop's 1280x800 and a phone's 390x844: run `check`, find no axe finding of any
        impact, and keep a screenshot of each."""
        before = self.page.viewport_size
        try:
            for width, height in SIZES:
                self.page.set_viewport_size({"width": width, "height": height})
                check()
                problems = axe_clean(self.page)
                assert problems == [], f"{self.name}'s {label} at {width}x{height}: {problems}"
                self.screenshot(f"{label}-{width}x{height}")
        finally:
            if before:
                self.page.set_viewport_size(before)

    def close(self) -> None:
        self.context.close()


AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"


def accessibility_problems(page: Page, *, every_impact: bool = False) -> list[str]:
    """axe-core findings (WCAG 2.1 A/AA and best practices) on the page as it is now: serious and
    critical ones, or with `every_impact` every one (minor included)."""
    assert AXE.exists(), "axe-core missing: run `npm ci` in web/"
    if not page.evaluate("() => 'axe' in window"):
        page.evaluate(AXE.read_text() + "\n;0")  # through devtools: the page's CSP rightly refuses script tags
    found: list[dict[str, object]] = page.evaluate(
        """async (every) => (await axe.run(document, {runOnly: every
              ? ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']
              : ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}))
            .violations.filter((v) => every || ['serious', 'critical'].includes(v.impact))
            .map((v) => ({id: v.id, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))}))""",
        every_impact,
    )
    return [f"{v['id']}: {v['help']} at {v['nodes']}" for v in found]


def axe_clean(page: Page) -> list[str]:
    """Every axe-core finding, whatever its impact: the bar is zero."""
    return accessibility_problems(page, every_impact=True)


def turn_status_at_top(page: Page) -> None:
    """The phase and floor pills take one line each, right under the title, whatever notices the strip
    holds besides (a weak link's, audio only's): on a phone they are the first thing read."""
    phone = bool(page.viewport_size and page.viewport_size["width"] <= 640)
    for pill in ("phase-status", "floor-status"):  # a phone's pills are smaller (less padding)
        box = page.get_by_test_id(pill).bounding_box()
        assert box and box["height"] <= (34 if phone else 40) and box["y"] + box["height"] <= 160, (pill, box)
