"""A ``preferred`` session led by a facilitator client that knows nothing of e2ee, in Chromium.

The facilitator is a real python-socketio + aiortc client (tests/web/media_spy.py with
``says_cannot_encrypt=False``): it never sends ``auth.e2ee`` nor ``e2ee.key``, so the server counts it
as one that cannot encrypt, and nobody present can hold the media key.

- Two members' pages go in the clear (the server's ``e2ee.clear``), say so, and see each other; what the
  server forwards to the facilitator client decodes as VP8 with PyAV.
- A co-facilitator whose browser encrypts arrives and holds the key: in the clear still while the
  outside facilitator is connected; once it has gone, a keyed grant takes the members from clear to
  encrypted, every page shows the same code, and the members still see each other.
"""

from __future__ import annotations

from collections.abc import Iterator

import av
import pytest
from playwright.sync_api import Browser, expect

from tests.web.conftest import make_person
from tests.web.hearth_process import HearthServer
from tests.web.media_spy import MediaSpy
from tests.web.people import LIVE_JS, Person

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FRAMES = 30
STATUS_JS = "(status) => hearth.client.e2ee.status === status"


def live(viewer: Person, name: str) -> None:
    """30 more frames from `name` than the page had decoded so far, and the picture live: after a
    change from clear to a key the picture may pause while the decoder waits for a keyframe."""
    seen = viewer.video_of(name)
    viewer.page.wait_for_function(LIVE_JS, arg=[name, (seen["frames"] if seen else 0) + 30], timeout=30_000)
    viewer.wait_video_live(name)


def decodes(frames: list[bytes]) -> int:
    """How many of `frames` (from a keyframe on) PyAV's VP8 decoder turns into pictures."""
    codec = av.CodecContext.create("vp8", "r")
    pictures = 0
    for data in frames:
        try:
            pictures += len(codec.decode(av.Packet(data)))
        except av.error.FFmpegError:
            continue
    return pictures


@pytest.fixture
def people(browser: Browser) -> Iterator[list[Person]]:
    made: list[Person] = []
    yield made
    for person in made:
        person.close()


def test_a_session_led_by_a_client_that_cannot_encrypt_runs_in_the_clear_until_a_browser_takes_the_key(
    hearth: HearthServer, browser: Browser, people: list[Person]
) -> None:
    created = hearth.create_session("Outside lead", requires_agreement=False, admission="open", e2ee="preferred")
    lead = MediaSpy(hearth.base, created["facilitator_token"], says_cannot_encrypt=False)
    try:
        alex, sam = (make_person(browser, n, hearth.invite(created["id"], n)["url"]) for n in ("Alex", "Sam"))
        people += [alex, sam]
        for member in (alex, sam):
            member.open()
            member.join()
        for member in (alex, sam):
            member.page.wait_for_function(STATUS_JS, arg="clear")
            expect(member.page.get_by_test_id("e2ee-status")).to_have_attribute("data-status", "clear")
        live(alex, "Sam")
        live(sam, "Alex")
        expect(alex.tile("Sam")).to_have_attribute("data-e2ee", "clear")
        alex.screenshot("e2ee-outside-lead-clear")
        stream = lead.stream_of("Alex")
        recorded = lead.wait_frames(stream, FRAMES + 5)
        start = next(i for i, f in enumerate(recorded) if f and f[0] & 0x01 == 0)  # from a keyframe
        frames = lead.wait_frames(stream, FRAMES + start)[start : start + FRAMES]
        assert decodes(frames) >= FRAMES - 2, "what the server forwards in the clear decodes"

        co = make_person(browser, "Co", hearth.invite(created["id"], "Co", role="cofacilitator")["url"])
        people.append(co)
        co.open()
        co.join()
        co_id = co.page.evaluate("() => hearth.you.id")
        co.page.wait_for_function("(id) => hearth.client.e2ee.holder === id", arg=co_id)
        co.page.wait_for_function(STATUS_JS, arg="clear")  # the outside facilitator is still connected
        for member in (alex, sam):
            assert member.page.evaluate("() => hearth.client.e2ee.status") == "clear"

        lead.close()  # the outside facilitator goes: everyone connected can encrypt now
        key = co.page.wait_for_function("() => hearth.client.e2ee.status === 'encrypted' && hearth.client.e2ee.keyId")
        key_id = key.json_value()
        code = co.page.evaluate("() => hearth.client.e2ee.code")
        for member in (alex, sam):
            member.page.wait_for_function("(k) => hearth.client.e2ee.keyId === k", arg=key_id)
            assert member.page.evaluate("() => hearth.client.e2ee.status") == "encrypted"
            assert member.page.evaluate("() => hearth.client.e2ee.code") == code
        live(alex, "Sam")
        live(sam, "Alex")
        live(alex, "Co")
        expect(alex.tile("Sam")).to_have_attribute("data-e2ee", "encrypted")
        expect(sam.tile("Alex")).to_have_attribute("data-e2ee", "encrypted")
        expect(sam.page.get_by_test_id("e2ee-status")).to_have_attribute("data-status", "encrypted")
        sam.screenshot("e2ee-outside-lead-then-encrypted")
    finally:
        lead.close()
