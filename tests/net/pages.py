"""Chromium in a lab namespace, and the pages the network tests read: a Hearth member's and a direct peer's.

One browser process per namespace (a namespace belongs to a whole process); Playwright drives it over
a pipe from the root namespace. The lab's servers are plain http on lab addresses, which are not
secure contexts, so each browser is told to treat exactly those origins as secure (camera and
microphone need one). Every page gets ``netlab.js``, which reads the page's connections the same way
whichever kind of page it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright, ViewportSize

from tests.net.lab import Lab
from tests.web.hearth_process import CHROMIUM, CHROMIUM_ARGS
from tests.web.people import TEST_HOOK_JS, Person

# Small: five browsers composite their videos in software on two shared cores.
VIEWPORT: ViewportSize = {"width": 800, "height": 600}
NETLAB_JS = (Path(__file__).with_name("netlab.js")).read_text()

# A Hearth page's connections, through the test hook (the app is out of reach of other scripts):
# what it receives is named by the session state's stream ids, as the grid names its tiles.
HEARTH_PEERS_JS = """
window.netlabPeers = () => {
  const client = window.hearth?.client;
  if (!client) return null;
  return {
    receiving: [client.subscriber?.pc].filter(Boolean),
    sending: [client.publisher?.pc].filter(Boolean),
    publisher: client.publisher,
    nameOf(trackId) {
      for (const [msid, stream] of client.streams) {
        if (!stream.getTracks().some((t) => t.id === trackId)) continue;
        const people = client.session?.participants ?? [];
        return people.find((p) => (p.stream_ids ?? []).includes(msid))?.name ?? null;
      }
      return null;
    },
  };
};
"""


def launch_in(playwright: Playwright, lab: Lab, role: str, secure_origins: Sequence[str], *extra: str) -> Browser:
    """Debian's Chromium, headless, inside ``role``'s namespace, with the suite's usual flags."""
    if not CHROMIUM.exists():
        raise AssertionError(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    args = [*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={','.join(secure_origins)}", *extra]
    return playwright.chromium.launch(executable_path=str(lab.browser_executable(role)), headless=True, args=args)


def hearth_person(browser: Browser, name: str, url: str) -> Person:
    """A Hearth member's page (not opened yet), measurable: the test hook, then netlab.js."""
    context = browser.new_context(viewport=VIEWPORT)
    for script in (TEST_HOOK_JS, NETLAB_JS, HEARTH_PEERS_JS):
        context.add_init_script(script)
    page = context.new_page()
    page.on("pageerror", lambda err: print(f"[{name}] page error: {err}"))
    return Person(name, url, context, page)


@dataclass
class Peer:
    """One side of the direct baseline (tests/net/p2p.html), named like the Hearth member it stands beside."""

    name: str
    page: Page

    @classmethod
    def open(cls, browser: Browser, relay: str, name: str, peer: str) -> Peer:
        context = browser.new_context(viewport=VIEWPORT)
        context.add_init_script(NETLAB_JS)
        page = context.new_page()
        page.on("pageerror", lambda err: print(f"[p2p {name}] page error: {err}"))
        page.goto(f"{relay}/p2p.html?name={name}&peer={peer}")
        return cls(name, page)

    def wait_connected(self, timeout_ms: float = 30_000) -> None:
        connected = "document.getElementById('status').textContent === 'connected'"
        self.page.wait_for_function(
            f"document.querySelector('#remote').videoWidth > 0 && {connected}", timeout=timeout_ms
        )

    def close(self) -> None:
        self.page.context.close()


def snapshot(page: Page) -> dict[str, Any]:
    """netlab.js's view of a page now: every stream's counters and the routes its connections took."""
    result: dict[str, Any] = page.evaluate("netlab.snapshot()")
    return result


def frames(page: Page, track: str, since_wall: float) -> list[tuple[float, float | None, int | None]]:
    """Video frames of ``track`` shown since a wall-clock time (seconds): (shown, received, RTP timestamp), seconds."""
    rows: list[list[Any]] = page.evaluate("([t, s]) => netlab.frames(t, s)", [track, since_wall * 1000])
    return [(shown / 1000, received / 1000 if received else None, rtp) for shown, received, rtp in rows]
