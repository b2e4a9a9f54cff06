"""Firefox ESR as one member of a session under ``e2ee: "required"``, with a Chromium facilitator and
a Chromium member: Firefox encrypts with RTCRtpScriptTransform (Chromium the same; older Chromium
falls back to createEncodedStreams), and each browser decrypts and decodes the others' frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.web.conftest import make_person
from tests.web.firefox import FirefoxPerson
from tests.web.hearth_process import HearthServer
from tests.web.people import LIVE_JS, Person

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STATS_JS = "async () => await hearth.client.e2ee.stats()"
E2EE_JS = "() => { const e = hearth.client.e2ee; return {status: e.status, code: e.code, support: e.support}; }"


class Mixed:
    def __init__(self, hearth: HearthServer, browser: Browser) -> None:
        created = hearth.create_session("Firefox e2ee", requires_agreement=False, admission="open", e2ee="required")
        self.lead = make_person(browser, "Facilitator", created["facilitator_url"])
        self.alex = make_person(browser, "Alex", hearth.invite(created["id"], "Alex")["url"])
        self.fox = FirefoxPerson("Fox", hearth.invite(created["id"], "Fox")["url"])

    def close(self) -> None:
        self.fox.close()
        self.lead.close()
        self.alex.close()


@pytest.fixture(scope="module")
def mixed(hearth: HearthServer, browser: Browser) -> Iterator[Mixed]:
    m = Mixed(hearth, browser)
    yield m
    m.close()


def enter(person: Person) -> None:
    person.open()
    person.join()


def test_firefox_encrypts_and_decrypts_with_chromium_under_required(mixed: Mixed) -> None:
    m = mixed
    enter(m.lead)
    enter(m.alex)
    m.fox.open()
    m.fox.join()
    m.fox.wait("() => document.querySelector('[data-testid=\"room\"]') !== null")
    # The same key everywhere: the codes agree once the last grant has arrived.
    m.fox.wait("() => hearth.client.e2ee.status === 'encrypted'")
    for _ in range(50):
        fox: dict[str, Any] = m.fox.evaluate(E2EE_JS)
        codes = {p.name: p.page.evaluate(E2EE_JS)["code"] for p in (m.lead, m.alex)}
        if set(codes.values()) == {fox["code"]}:
            break
        m.lead.page.wait_for_timeout(100)  # grants converge: look again
    assert fox["support"] == "script", fox
    assert set(codes.values()) == {fox["code"]}, (codes, fox)

    for person in (m.lead, m.alex):
        person.page.wait_for_function(LIVE_JS, arg=["Fox", 30], timeout=30_000)
        person.wait_video_live("Fox")
        expect(person.tile("Fox")).to_have_attribute("data-e2ee", "encrypted")
    m.fox.wait(f"() => ({LIVE_JS})(['Facilitator', 30]) && ({LIVE_JS})(['Alex', 30])")
    m.fox.wait_video_live("Facilitator")
    m.fox.wait_video_live("Alex")
    stats: dict[str, Any] = m.fox.evaluate(STATS_JS)
    sent = {t["kind"]: t for t in stats["transforms"] if t["side"] == "send"}
    assert sent["video"]["encrypted"] > 0 and sent["audio"]["encrypted"] > 0, stats
    assert sent["video"]["clear"] == 0 and sent["audio"]["clear"] == 0, stats
    received = {t["kind"] for t in stats["transforms"] if t["side"] == "receive" and t["decrypted"] > 0}
    assert received == {"audio", "video"}, stats
    m.fox.screenshot("e2ee-firefox-room")
