"""Simulcast from a real browser: Debian's Chromium publishes through ``web/rtc.js``'s ``Publisher``
(two layers by RID, half and full size) to a real ``MediaEngine`` in-process; two real aiortc
subscribers decode what they are forwarded. The one whose page shows the publisher in a small tile
gets the low layer's resolution, the one with room the high layer's; when the small tile grows, the
layer switches at a keyframe of the high layer and the subscriber's stream goes on without a break
(one timeline, no frame lost to the switch, no decoding error, picture ids that run on).

A Chromium receiver (``web/rtc.js``'s ``Subscriber``) is the stricter judge: it drops or waits for
frames whose VP8 picture ids jump, and says so in ``getStats`` (``freezeCount``, ``pauseCount``).
Moved from layer to layer and back, it shows no freeze and keeps decoding.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from pathlib import Path
from typing import Any

import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from playwright.async_api import Browser, Page, Route

from server.media.engine import MediaEngine
from server.media.sink import LAYER_SWITCH_STEP
from server.media.vp8 import read_indexes
from tests.media.clients import Client, Recorder, wait_for
from tests.media.conftest import SESSION, Room

pytestmark = [pytest.mark.media, pytest.mark.browser, pytest.mark.slow]

WEB = Path(__file__).resolve().parents[2] / "web"
ORIGIN = "http://localhost"  # a secure context (getUserMedia), served by the route below, no server
PAGE = """<!doctype html><meta charset="utf-8"><title>publisher</title>
<script type="module">
import { Publisher } from './rtc.js';
window.publish = async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  const local = Object.assign(new EventTarget(), {
    stream, audioTrack: stream.getAudioTracks()[0], videoTrack: stream.getVideoTracks()[0],
  });
  window.publisher = new Publisher([], local);  // simulcast by default
  return (await window.publisher.offer()).sdp;
};
window.ready = true;
</script>"""
FULL, HALF = (640, 480), (320, 240)
VIEWER_PAGE = """<!doctype html><meta charset="utf-8"><title>viewer</title><body>
<script type="module">
import { Subscriber } from './rtc.js';
const subscriber = new Subscriber([]);
subscriber.addEventListener('streams', () => {
  for (const stream of subscriber.streams.values()) {
    if (document.getElementById(stream.id)) continue;
    const video = Object.assign(document.createElement('video'), { id: stream.id, autoplay: true, muted: true });
    video.srcObject = stream;
    document.body.append(video);
  }
});
window.answer = async (sdp) => (await subscriber.answer({ type: 'offer', sdp })).sdp;
window.videoStats = async () => {
  for (const r of (await subscriber.pc.getStats()).values()) {
    if (r.type === 'inbound-rtp' && r.kind === 'video' && r.framesDecoded > 0) {
      return { decoded: r.framesDecoded, freezes: r.freezeCount, pauses: r.pauseCount, width: r.frameWidth,
               frozen: r.totalFreezesDuration, dropped: r.framesDropped ?? 0 };
    }
  }
  return null;
};
window.ready = true;
</script>"""


class Viewer(Client):
    """A subscriber that keeps each decoded video frame's size and RTP timestamp (aiortc's ``pts``)."""

    def __init__(self, engine: MediaEngine, participant_id: str) -> None:
        super().__init__(engine, SESSION, participant_id)
        self.frames: list[tuple[tuple[int, int], int]] = []

    async def _consume(self, track: MediaStreamTrack, key: tuple[str, str]) -> None:
        try:
            while True:
                frame: Any = await track.recv()
                if track.kind == "video":
                    self.frames.append(((frame.width, frame.height), frame.pts))
        except (MediaStreamError, asyncio.CancelledError):
            pass

    def sized(self, size: tuple[int, int]) -> int:
        return sum(1 for got, _ in self.frames if got == size)


async def serve(route: Route) -> None:
    if route.request.url.endswith("/rtc.js"):
        await route.fulfill(body=(WEB / "rtc.js").read_text(), content_type="text/javascript")
    elif route.request.url.endswith("/viewer.html"):
        await route.fulfill(body=VIEWER_PAGE, content_type="text/html")
    else:
        await route.fulfill(body=PAGE, content_type="text/html")


class ChromiumViewer:
    """A subscriber in Chromium: the engine's offers are answered by ``web/rtc.js``'s ``Subscriber``."""

    def __init__(self, engine: MediaEngine, participant_id: str, page: Page) -> None:
        self.engine, self.participant_id, self.page = engine, participant_id, page

    async def on_offer(self, sdp: str, revision: int) -> None:
        answer = await self.page.evaluate("sdp => window.answer(sdp)", sdp)
        await self.engine.answer(SESSION, self.participant_id, answer, revision)

    async def stats(self) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self.page.evaluate("window.videoStats()")
        return found

    async def close(self) -> None:
        await self.page.context.close()


def picture_ids_run_on(heads: list[bytes]) -> bool:
    """Each packet's PictureID is one already seen lately (a frame's next packets, a resend) or the next
    picture's (at most one picture lost on the way): never a jump, as at a switch without rewriting."""
    ids = [found[0] for head in heads if (found := read_indexes(head)) is not None and found[0] >= 0]
    newest = ids[0]
    for picture in ids[1:]:
        ahead = (picture - newest) & 0x7FFF
        if ahead <= 2:
            newest = picture
        elif ahead < 0x7FFF - 64:
            return False
    return len(ids) > 0


async def chromium_publishes(browser: Browser, engine: MediaEngine, participant_id: str) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.route(f"{ORIGIN}/**", serve)
    await page.goto(f"{ORIGIN}/publisher.html")
    await page.wait_for_function("window.ready === true")
    offer = await page.evaluate("window.publish()")
    assert "a=simulcast:send lo;hi" in offer  # the browser offers both layers
    answer = await engine.publish(SESSION, participant_id, offer)
    assert "a=simulcast:recv lo;hi" in answer  # and the server takes them
    await page.evaluate("answer => window.publisher.accept({ sdp: answer })", answer)
    return page


async def test_a_small_tile_gets_the_low_layer_a_large_one_the_high_and_a_switch_does_not_break_the_stream(
    room: Room, browser: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    events: Recorder = room.events
    small, wide = Viewer(room.engine, "small"), Viewer(room.engine, "wide")
    events.clients.update(small=small, wide=wide)
    await room.policy({"chrome", "small", "wide"})
    await room.engine.set_view(SESSION, "small", {"chrome": "small"})
    page = await chromium_publishes(browser, room.engine, "chrome")
    try:
        await wait_for(lambda: wide.sized(FULL) >= 10 and small.sized(HALF) >= 10, timeout=45)
        assert small.sized(FULL) == 0, "the small tile was sent the high layer"
        switched_at = len(small.frames)
        await room.engine.set_view(SESSION, "small", {"chrome": "large"})
        await wait_for(lambda: small.sized(FULL) >= 10, timeout=20)
    finally:
        await page.context.close()
    after = small.frames[switched_at:]
    first_full = next(i for i, (size, _) in enumerate(after) if size == FULL)
    assert first_full > 0, "no low-layer frame between the choice and the switch: the picture stopped"
    assert all(size == HALF for size, _ in after[:first_full])
    assert all(size == FULL for size, _ in after[first_full:]), "back and forth between layers"
    (_, last_half), (_, first_full_pts) = after[first_full - 1], after[first_full]
    assert first_full_pts - last_half == LAYER_SWITCH_STEP, "the high layer continues the low one's timeline"
    pts = [p for _, p in small.frames]
    assert all(b > a for a, b in itertools.pairwise(pts)), "one timeline, always forward"
    # VP8 only: Chromium's Opus sends empty payloads in DTX (libwebrtc's ``send_even_if_empty``), which
    # browsers take as silence and aiortc's decoder as end of stream (every later Opus frame then fails).
    assert "failed to decode VP8" not in caplog.text
    assert picture_ids_run_on(small.heads[next(k for k in small.heads if k[1] == "video")])
    print(f"small: {small.sized(HALF)} half, then {small.sized(FULL)} full size; wide: {wide.sized(FULL)} full size")


async def test_a_chromium_receiver_moved_between_layers_up_and_down_does_not_freeze(
    room: Room, browser: Browser
) -> None:
    await room.policy({"chrome", "viewer"})
    await room.engine.set_view(SESSION, "viewer", {"chrome": "small"})
    page = await (await browser.new_context()).new_page()
    await page.route(f"{ORIGIN}/**", serve)
    await page.goto(f"{ORIGIN}/viewer.html")
    await page.wait_for_function("window.ready === true")
    viewer = ChromiumViewer(room.engine, "viewer", page)
    room.events.clients["viewer"] = viewer  # type: ignore[assignment]  # answers offers as a Client does
    publisher = await chromium_publishes(browser, room.engine, "chrome")
    seen: list[dict[str, Any]] = []

    async def decoded(width: int, frames: int) -> None:
        async def enough() -> bool:
            found = await viewer.stats()
            if found is not None:
                seen.append(found)
            return found is not None and found["width"] == width and found["decoded"] >= frames

        start = asyncio.get_running_loop().time()
        while not await enough():
            assert asyncio.get_running_loop().time() - start < 45, f"no {width} px frames: {seen[-1:]}"
            await asyncio.sleep(0.1)

    try:
        await decoded(HALF[0], 30)  # the low layer, running
        before = seen[-1]
        await room.engine.set_view(SESSION, "viewer", {"chrome": "large"})
        await decoded(FULL[0], before["decoded"] + 60)  # switched up, and two more seconds of it
        up = seen[-1]
        await room.engine.set_view(SESSION, "viewer", {"chrome": "small"})
        await decoded(HALF[0], up["decoded"] + 60)  # and down again
        after = seen[-1]
    finally:
        await publisher.context.close()
        await viewer.close()
    print(f"viewer: {before} -> {up} -> {after}")
    # A loaded machine (2 cores, two browsers) may stall a frame now and then; a switch with the layers'
    # own picture ids was seen to stop the picture for 3 s and drop 54 frames. Over half a second is the
    # issue's threshold.
    assert after["frozen"] - before["frozen"] < 0.5, "a switch froze the picture"
    assert after["dropped"] - before["dropped"] < 5, "frames dropped at a switch"
    assert after["pauses"] == 0


TOP_LAYER_JS = """async (active) => {
  const sender = window.publisher.video.sender;
  const parameters = sender.getParameters();
  parameters.encodings[parameters.encodings.length - 1].active = active;
  await sender.setParameters(parameters);
}"""


async def test_a_top_layer_the_publisher_stops_mid_stream_hands_its_subscriber_the_low_layer_and_back(
    room: Room, browser: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    """Chromium turns its top layer off as its browser does when its estimate or CPU no longer carries
    it (the encoding goes inactive, the packets stop, nothing else says so). The subscriber on it is
    moved to the low layer by the 5 Hz look at the layers (``bandwidth.drop_stalled``), its stream
    goes on at half size on one timeline, and when the layer comes back the round moves it up again
    once the layer's rest after the stall is over (``stalls.REST_AFTER_STALL``)."""
    caplog.set_level(logging.DEBUG, logger="server.media.bandwidth")
    wide = Viewer(room.engine, "wide")
    room.events.clients["wide"] = wide
    await room.policy({"chrome", "wide"})
    page = await chromium_publishes(browser, room.engine, "chrome")
    try:
        await wait_for(lambda: wide.sized(FULL) >= 10, timeout=45)
        stopped_at = len(wide.frames)
        await page.evaluate(TOP_LAYER_JS, False)
        await wait_for(lambda: sum(1 for size, _ in wide.frames[stopped_at:] if size == HALF) >= 10, timeout=20)
        restarted_at = len(wide.frames)
        await page.evaluate(TOP_LAYER_JS, True)
        await wait_for(lambda: sum(1 for size, _ in wide.frames[restarted_at:] if size == FULL) >= 10, timeout=30)
    finally:
        await page.context.close()
    assert "layer 1 -> 0 of chrome (layer 1 stalled)" in caplog.text, "the round moved it, not the look"
    during = [size for size, _ in wide.frames[stopped_at:restarted_at]]
    first_half = during.index(HALF)
    assert all(size == HALF for size in during[first_half:]), "back to a layer that had stopped"
    pts = [p for _, p in wide.frames]
    assert all(b > a for a, b in itertools.pairwise(pts)), "one timeline, always forward"
