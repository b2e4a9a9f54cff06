"""An admitted member's oversized and garbage SDP: refused at once, nothing kept, nobody stalled.

Before the limits, a 52 KB offer with about 1,400 m-lines cost 0.24-2 s of event-loop time (a
transceiver per m-line) before it was refused, stalling media and signaling for every session on
the node, and left about 9 MB behind each time; a garbage SDP was answered ``ok`` with an empty
answer. Here the member's huge offers are renegotiations of its real publishing connection.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import av
import psutil
import pytest

from server.keys import MEDIA
from server.media.limits import MAX_PUBLISH_SECTIONS
from signaling.protocol import MAX_SDP_CHARS
from tests.faults import media_session
from tests.faults.media_session import KEEP_RATE, LiveSession
from tests.harness import Client, Harness

pytestmark = [pytest.mark.media, pytest.mark.slow]

HUGE_OFFERS = 30
EXTRA_SECTIONS = 1_400
MAX_RSS_GROWTH = 60 * 1024 * 1024
OTHER_ACK_P99 = 0.25  # seconds: another session's acknowledgements while the offers arrive


clip, server = media_session.clip, media_session.server  # the fixtures these tests take


def huge(offer: str) -> str:
    """The member's own offer (same ICE ufrag: a renegotiation) with 1,400 more m-lines: about 52 KB."""
    sdp = offer + "".join(f"m=video 9 UDP/TLS/RTP/SAVPF 96 {i % 10}\r\n" for i in range(EXTRA_SECTIONS))
    assert 50_000 < len(sdp) <= MAX_SDP_CHARS and sdp.count("\nm=") > EXTRA_SECTIONS
    return sdp


async def other_session(server: Harness) -> list[Client]:
    """Another session on the node: a facilitator and two admitted members, signaling only."""
    session = await server.create_session(requires_agreement=False)
    lead = await server.connect(session["facilitator_token"])
    members = [await server.join(session["id"], name) for name in ("Dana", "Eli")]
    for member in members:
        assert (await lead.ask("admit", {"id": member.id}))["ok"]
    return [lead, *members]


async def keep_asking(clients: list[Client], acks: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """Each client sends a command every 20 ms and notes (sent at, acknowledged after); a second of
    this stays within the rate limit's burst."""

    async def one(client: Client) -> None:
        audio = True
        while not stop.is_set():
            audio = not audio
            started = time.monotonic()
            reply = await client.ask("media.state", {"audio": audio, "video": True})
            acks.append((started, time.monotonic() - started))
            assert reply["ok"], reply
            await asyncio.sleep(0.02)

    await asyncio.gather(*(one(client) for client in clients))


async def test_huge_offers_from_a_member_are_refused_without_stalling_or_keeping_memory(
    server: Harness, clip: list[av.Packet]
) -> None:
    live = await LiveSession.start(server, ["Ana", "Ben", "Cam"], clip)
    engine: Any = server.app[MEDIA]
    others = await other_session(server)
    try:
        cam = live.everyone["Cam"]
        assert cam.publisher is not None
        offer = huge(cam.publisher.localDescription.sdp)
        connections = engine.connections()
        rates = await live.baseline()  # Cam's own media too: it must keep working
        acks: list[tuple[float, float]] = []
        stop = asyncio.Event()
        gc.collect()
        rss_before = psutil.Process().memory_info().rss
        marks = live.mark()
        asking = asyncio.ensure_future(keep_asking(others, acks, stop))
        started = time.monotonic()
        replies = [await cam.wire.ask("rtc.publish", {"sdp": offer, "type": "offer"}) for _ in range(HUGE_OFFERS)]
        took = time.monotonic() - started
        stop.set()
        await asking
        gc.collect()
        grown = psutil.Process().memory_info().rss - rss_before
        assert all(not r["ok"] and r["error"]["code"] == "invalid" for r in replies), replies[0]
        assert f"at most {MAX_PUBLISH_SECTIONS} m-lines" in replies[0]["error"]["message"]
        assert grown < MAX_RSS_GROWTH, f"RSS grew {grown / 2**20:.1f} MB over {HUGE_OFFERS} refused offers"
        during = sorted(latency for sent, latency in acks if sent <= started + took)
        assert len(during) >= len(others), acks
        p99 = during[int(0.99 * (len(during) - 1))]
        assert p99 < OTHER_ACK_P99, f"other session's ack p99 {p99 * 1000:.0f} ms during the offers"
        # Nothing was built or torn down; every stream, Cam's included, kept its rate throughout.
        assert engine.connections() == connections
        after = await live.rates(marks, max(2.0, took))
        short = {k: (round(rates[k], 2), round(v, 2)) for k, v in after.items() if v < KEEP_RATE * rates[k]}
        assert not short, short
        figures = f"RSS {grown / 2**20:+.1f} MB; other session's ack p99 {p99 * 1000:.0f} ms of {len(during)}"
        print(f"{HUGE_OFFERS} refused offers in {took:.2f} s; {figures}")
        await live.assert_acks_quick()
        await live.assert_can_end()
    finally:
        await live.close()


@pytest.mark.parametrize(
    "sdp",
    [
        "x",
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
        "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
    ],
    ids=["garbage", "no-m-lines", "no-audio-or-video"],
)
async def test_a_garbage_offer_is_invalid_and_builds_nothing(server: Harness, clip: list[av.Packet], sdp: str) -> None:
    live = await LiveSession.start(server, ["Ana"], clip)
    engine: Any = server.app[MEDIA]
    try:
        connections = engine.connections()
        reply = await live.everyone["Ana"].wire.ask("rtc.publish", {"sdp": sdp, "type": "offer"})
        assert not reply["ok"] and reply["error"]["code"] == "invalid", reply
        assert engine.connections() == connections
        rates = await live.baseline()
        assert all(rate > KEEP_RATE for rate in rates.values()), rates
    finally:
        await live.close()
