"""A member's browser tab is closed while a renegotiation is in flight: the rest of the session goes on.

The tab is Debian's Chromium on the real page, against a real node in-process; the others are real
aiortc peers (``media_session``) whose rates can be measured. A fourth member joins and publishes,
the server sends everyone a new offer, and the tab closes once it has taken its offer in and before
its answer reaches the server (the page's answer is held back, so the timing is not left to chance).
"""

from __future__ import annotations

import asyncio

import av
import pytest
from playwright.async_api import Browser, Page, expect

from rooms.model import stream_id_for
from tests.faults import media_session
from tests.faults.media_session import KINDS, LiveSession, Member, until
from tests.harness import Harness
from tests.web.people import LIVE_JS, TEST_HOOK_JS

pytestmark = [pytest.mark.media, pytest.mark.browser, pytest.mark.slow]


clip, server = media_session.clip, media_session.server  # the fixtures these tests take


async def open_tab(browser: Browser, url: str) -> Page:
    """The member's page, joined (straight into the room if already admitted, else the waiting room)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    await context.add_init_script(TEST_HOOK_JS)  # the app as window.hearth, for _hold_answers
    page = await context.new_page()
    await page.goto(url)
    await expect(page.get_by_test_id("join-screen")).to_contain_text("You are joining as", timeout=20_000)
    button = page.get_by_test_id("join-button")
    await expect(button).to_be_enabled(timeout=10_000)
    await button.click()
    return page


async def receives_from(receivers: list[Member], stream: str) -> None:
    await until(lambda: all(m.got(stream, kind) >= 5 for m in receivers for kind in KINDS), timeout=30)


async def test_a_tab_closed_mid_renegotiation_is_shown_dropped_and_seated_again_when_it_comes_back(
    server: Harness, browser: Browser, clip: list[av.Packet]
) -> None:
    live = await LiveSession.start(server, ["Ana", "Ben"], clip)
    pages: list[Page] = []
    try:
        invite = await server.invite(live.session_id, "Cam")
        cam_id, cam_stream = invite["id"], stream_id_for(invite["id"])
        pages.append(await open_tab(browser, invite["url"]))
        await live.facilitator.wire.wait_for("lobby", lambda lobby: any(w["id"] == cam_id for w in lobby["waiting"]))
        assert (await live.facilitator.wire.ask("admit", {"id": cam_id}))["ok"]
        await expect(pages[0].get_by_test_id("room")).to_be_visible(timeout=20_000)
        await receives_from(list(live.everyone.values()), cam_stream)  # Cam's tab publishes to everyone
        answer_held = asyncio.Event()
        await _hold_answers(pages[0], answer_held)
        dee = await live.join("Dee")
        seen = live.facilitator.wire.count("session.state")
        rates, marks = await live.before_fault("Dee")
        await dee.publish()  # everyone, Cam's tab included, is sent a new offer
        await asyncio.wait_for(answer_held.wait(), timeout=10)
        await pages[0].context.close()  # the tab goes mid-renegotiation: offer taken in, answer never sent

        await live.assert_others_unaffected(rates, marks, "Dee")
        await live.facilitator.wire.state(
            lambda s: any(p["id"] == cam_id and not p["connected"] for p in s["participants"]), since=seen, timeout=10
        )
        await live.until_everyone_receives_everyone()  # Dee included, Cam's tracks gone

        back = await open_tab(browser, invite["url"])  # Cam comes back: the same link, a new tab
        pages.append(back)
        await expect(back.get_by_test_id("room")).to_be_visible(timeout=20_000)
        await live.facilitator.wire.state(
            lambda s: any(p["id"] == cam_id and p["connected"] for p in s["participants"]), timeout=10
        )
        await receives_from(list(live.everyone.values()), cam_stream)
        for name in ("Ana", "Dee"):
            await back.wait_for_function(LIVE_JS, arg=[name, 3], timeout=30_000)
        await live.assert_can_end()
        await expect(back.get_by_test_id("end-ended")).to_be_visible(timeout=10_000)
    finally:
        for page in pages:
            await page.context.close()
        await live.close()


async def _hold_answers(page: Page, held: asyncio.Event) -> None:
    """From now on the page's ``rtc.answer`` never leaves it; ``held`` is set when one would have."""
    await page.expose_function("hearthAnswerHeld", lambda: held.set())
    await page.evaluate(
        """() => {
          const client = hearth.client;
          const send = client.send.bind(client);
          client.send = (event, payload) => {
            if (event !== 'rtc.answer') return send(event, payload);
            window.hearthAnswerHeld();
            return new Promise(() => {});
          };
        }"""
    )
