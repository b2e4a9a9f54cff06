"""A media worker is killed under a browser tab: the page publishes again by itself and its media comes
back both ways, with no reload and no reconnect of its socket; and the tile sizes a member told the old
worker (``media.view``) still choose the simulcast layer it is sent from the new one.

The tab is Debian's Chromium on the real page; the others are aiortc members (``media_session``) who
publish again when the server's view says their publishing connection is gone, as the page does
(``web/media-link.js``). A real node in-process with one media worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import av
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from rooms.model import stream_id_for
from server.keys import MEDIA
from tests.faults import media_session
from tests.faults.media_session import KINDS, LiveSession, until
from tests.faults.test_media_browser import open_tab
from tests.faults.test_media_workers import BACK_WITHIN, Republisher
from tests.harness import Harness, running_server

pytestmark = [pytest.mark.media, pytest.mark.browser, pytest.mark.slow]

clip = media_session.clip  # the fixtures these tests take

# Each remote tile's frame count now, kept on its video element; then whether it grew by ``more`` since.
MARK_JS = """() => {
  for (const v of document.querySelectorAll('[data-testid="tile"] video')) v.hearthMark = v.hearthFrames ?? 0;
}"""
GREW_JS = """([name, more]) => {
  const v = document.querySelector(`[data-testid="tile"][data-name="${name}"] video`);
  return Boolean(v && v.videoWidth > 0 && (v.hearthFrames ?? 0) >= (v.hearthMark ?? 0) + more);
}"""


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Harness]:
    async with running_server(
        media=True, allow_loopback=True, grace_seconds=media_session.GRACE_SECONDS, media_workers=1
    ) as harness:
        yield harness


@dataclass
class Cam:
    """Cam's page beside the aiortc peers of ``cam_beside_ana``."""

    live: LiveSession
    page: Page
    id: str


@contextlib.asynccontextmanager
async def cam_beside_ana(server: Harness, browser: Browser, clip: list[av.Packet]) -> AsyncIterator[Cam]:
    """A live session of aiortc peers (the facilitator and Ana, publishing again whenever their
    publishing connection is gone) and Cam's page, admitted; all closed at the end, whatever happened."""
    live = await LiveSession.start(server, ["Ana"], clip)
    page: Page | None = None
    republishers = [Republisher(m) for m in live.everyone.values()]
    try:
        invite = await server.invite(live.session_id, "Cam")
        page = await open_tab(browser, invite["url"])
        await live.facilitator.wire.wait_for(
            "lobby", lambda lobby: any(w["id"] == invite["id"] for w in lobby["waiting"])
        )
        assert (await live.facilitator.wire.ask("admit", {"id": invite["id"]}))["ok"]
        yield Cam(live, page, invite["id"])
    finally:
        for republisher in republishers:
            await republisher.stop()
        if page is not None:
            await page.context.close()
        await live.close()


async def test_a_tab_whose_media_worker_is_killed_publishes_again_and_sees_and_is_seen(
    server: Harness, browser: Browser, clip: list[av.Packet]
) -> None:
    media: Any = server.app[MEDIA]
    async with cam_beside_ana(server, browser, clip) as cam:
        live, page = cam.live, cam.page
        cam_stream = stream_id_for(cam.id)
        await expect(page.get_by_test_id("room")).to_be_visible(timeout=20_000)
        await until(lambda: all(m.got(cam_stream, k) >= 5 for m in live.everyone.values() for k in KINDS), 30)
        await page.wait_for_function(GREW_JS, arg=["Ana", 3], timeout=30_000)
        welcomes = await page.evaluate("() => hearth.client.status")

        await page.evaluate(MARK_JS)
        killed = time.monotonic()
        os.kill(media.worker_of(live.session_id), signal.SIGKILL)

        await until(
            lambda: all(m.got(cam_stream, k, since=killed) >= 5 for m in live.everyone.values() for k in KINDS),
            BACK_WITHIN,
        )
        await page.wait_for_function(GREW_JS, arg=["Ana", 10], timeout=BACK_WITHIN * 1000)
        await page.wait_for_function(GREW_JS, arg=["Facilitator", 10], timeout=BACK_WITHIN * 1000)
        assert await page.evaluate("() => hearth.client.status") == welcomes == "connected"  # never reconnected
        await live.assert_can_end()
        await expect(page.get_by_test_id("end-ended")).to_be_visible(timeout=10_000)


HIGH_WIDTH, LOW_WIDTH = 640, 320  # the page's camera and its low simulcast layer (``web/rtc.js``)
AFTER_BACK = 6.0  # seconds of video received from the new worker over which no keyframe may be the high layer


@pytest_asyncio.fixture
async def fixed_rates() -> AsyncIterator[Harness]:
    """As ``server``, with the allocator off (``--fixed-bandwidth``): the tile sizes alone choose the
    layer (aiortc's REMB trails what it is sent, and would hold a subscriber low after a restart)."""
    async with running_server(
        media=True,
        allow_loopback=True,
        grace_seconds=media_session.GRACE_SECONDS,
        media_workers=1,
        adapt_bandwidth=False,
    ) as harness:
        yield harness


async def test_a_member_s_tile_sizes_survive_a_media_worker_restart(
    fixed_rates: Harness, browser: Browser, clip: list[av.Packet]
) -> None:
    """Ana (aiortc) shows Cam's simulcast video in a small tile. The worker dies; Cam's page and Ana
    publish again, and nothing changes on Ana's page, so it sends no new view: the node gives the new
    worker the one it had, and Ana is sent Cam's low layer, never the high one. Then a large tile gets
    the high layer again (it was there to be sent all along). Widths are read from VP8 keyframe headers."""
    server = fixed_rates
    media: Any = server.app[MEDIA]
    async with cam_beside_ana(server, browser, clip) as cam:
        live, cam_id = cam.live, cam.id
        ana = live.everyone["Ana"]
        cam_video = (stream_id_for(cam_id), "video")

        def widths(since: float) -> list[int]:
            return [width for at, width in ana.keyframes[cam_video] if at >= since]

        await until(lambda: HIGH_WIDTH in widths(0), 45, lambda: widths(0))  # no view: the high layer
        told = time.monotonic()
        assert (await ana.wire.ask("media.view", {"sizes": {cam_id: "small"}}))["ok"]
        await until(lambda: LOW_WIDTH in widths(told), 30, lambda: widths(told))

        killed = time.monotonic()
        os.kill(media.worker_of(live.session_id), signal.SIGKILL)
        await until(lambda: ana.got(*cam_video, since=killed) >= 5, BACK_WITHIN)
        back = time.monotonic()
        await until(lambda: ana.got(*cam_video, since=back + AFTER_BACK) >= 5, AFTER_BACK + BACK_WITHIN)
        after = widths(killed)
        assert after and set(after) == {LOW_WIDTH}, f"keyframes from the new worker: {after}"

        told = time.monotonic()
        assert (await ana.wire.ask("media.view", {"sizes": {cam_id: "large"}}))["ok"]
        await until(lambda: HIGH_WIDTH in widths(told), 30, lambda: widths(told))
