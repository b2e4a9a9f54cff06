"""Transport-cc with a real browser: Debian's Chromium publishes through ``web/rtc.js`` to a real
``MediaEngine``; the answer negotiates the transport-wide sequence number and ``transport-cc``
feedback, the browser numbers its packets, and the server's feedback (read back by the draft's
decoder in ``test_transport_cc``) reports every number once, received, with arrival times that move
as the clock does. What the browser then does with it is measured in the lab (``bench/net_bench.py``).
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

import pytest
from playwright.async_api import Browser

from server.media.transport_cc import TRANSPORT_CC_URI
from tests.media.clients import wait_for
from tests.media.conftest import SESSION, Room
from tests.media.test_simulcast_chromium import chromium_publishes
from tests.media.test_transport_cc import decode

pytestmark = [pytest.mark.media, pytest.mark.browser, pytest.mark.slow]


async def test_a_browser_publisher_gets_feedback_on_every_packet_it_numbered(room: Room, browser: Browser) -> None:
    await room.policy({"chrome"})
    sent: list[bytes] = []
    answers: list[str] = []
    publish = room.engine.publish

    async def publish_and_keep(session_id: str, participant_id: str, sdp: str) -> str:
        answer = await publish(session_id, participant_id, sdp)
        answers.append(answer)
        inbound: Any = room.engine._rooms[SESSION].peers[participant_id].inbound
        feedback = inbound.feedback

        def kept() -> bytes | None:  # the real feedback, kept on its way out
            packet: bytes | None = feedback()
            if packet is not None:
                sent.append(packet)
            return packet

        inbound.feedback = kept
        return answer

    room.engine.publish = publish_and_keep  # type: ignore[method-assign]
    page = await chromium_publishes(browser, room.engine, "chrome")
    started = time.monotonic()
    try:
        await wait_for(lambda: len(sent) >= 30, timeout=30)
    finally:
        await page.context.close()
    elapsed = time.monotonic() - started
    (answer,) = answers
    ext = re.search(rf"^a=extmap:(\d+) {re.escape(TRANSPORT_CC_URI)}\r?$", answer, re.M)
    assert ext is not None, "the answer negotiates the transport-wide sequence number"
    assert re.search(r"^a=rtcp-fb:\d+ transport-cc\r?$", answer, re.M), "and transport-cc feedback"
    reported: dict[int, int] = {}
    bases = []
    for packet in sent:
        base, count, arrivals, _ = decode(packet)
        bases.append((base, count))
        assert not reported.keys() & arrivals.keys(), "a number reported twice"
        reported.update(arrivals)
    for (base, count), (following, _) in itertools.pairwise(bases):
        assert (base + count) & 0xFFFF == following, "each feedback starts where the one before ended"
    total = sum(count for _, count in bases)
    assert len(reported) >= 0.98 * total, f"{total - len(reported)} of {total} reported lost on loopback"
    times = sorted(reported.values())
    span = (times[-1] - times[0]) / 1e6
    assert 0.5 * len(sent) * 0.1 < span < elapsed + 1, f"arrivals span {span:.2f} s over {len(sent)} feedbacks"
