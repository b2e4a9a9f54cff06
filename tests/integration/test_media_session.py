"""Media through the whole stack: Socket.IO signaling (rtc.publish / rtc.offer / rtc.answer) and the
forwarding engine, with real aiortc peers as participants and the floor enforced by session commands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from server.keys import MEDIA
from tests.harness import Harness, running_server
from tests.integration.wire_peer import Peer, until

pytestmark = [pytest.mark.media, pytest.mark.slow]  # real aiortc peers through a whole node


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Harness]:
    async with running_server(media=True, allow_loopback=True) as harness:
        yield harness


async def test_three_participants_see_each_other_and_strict_floor_gates_audio(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False)
    facilitator = await server.connect(session["facilitator_token"])
    members = [await server.join(session["id"], name) for name in ("Ana", "Ben")]
    for member in members:
        assert (await facilitator.ask("admit", {"id": member.id}))["ok"]
    peers = [Peer(c) for c in (facilitator, *members)]
    try:
        for peer in peers:
            await peer.publish()
        state = await facilitator.state(lambda s: all(p["stream_ids"] for p in s["participants"]))
        streams = {p["id"]: p["stream_ids"][0] for p in state["participants"]}
        for peer in peers:
            others = [streams[p.wire.id] for p in peers if p is not peer]
            await until(
                lambda peer=peer, others=others: all(
                    peer.got(s, "video") > 5 and peer.got(s, "audio") > 5 for s in others
                )
            )

        ana, ben = peers[1], peers[2]
        phases = [{"name": "skills", "minutes": 10, "floor_mode": "strict"}]
        assert (await facilitator.ask("agenda.set", {"phases": phases}))["ok"]
        await asyncio.sleep(0.5)
        heard = ben.got(streams[ana.wire.id], "audio")
        await asyncio.sleep(0.6)
        stopped = ben.got(streams[ana.wire.id], "audio")
        await asyncio.sleep(0.6)
        assert ben.got(streams[ana.wire.id], "audio") == stopped >= heard  # Ana is not heard
        assert ben.got(streams[ana.wire.id], "video") > 0  # video keeps flowing
        assert (await facilitator.ask("floor.grant", {"id": ana.wire.id}))["ok"]
        await until(lambda: ben.got(streams[ana.wire.id], "audio") > stopped + 10, timeout=5)

        engine: Any = server.app[MEDIA]
        open_before = [pc for pc in engine.connections() if pc.connectionState != "closed"]
        assert len(open_before) == 6  # a publisher and a subscriber connection each
        assert (await facilitator.ask("remove", {"id": ben.wire.id}))["ok"]
        await until(lambda: len([pc for pc in engine.connections() if pc.connectionState != "closed"]) == 4, timeout=5)
        assert all(p.errors == [] for p in peers)
    finally:
        for peer in peers:
            await peer.close()


async def test_forwarding_shows_in_metrics_and_republishing_never_piles_up_connections(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False)
    facilitator = await server.connect(session["facilitator_token"])
    ana_wire = await server.join(session["id"], "Ana")
    assert (await facilitator.ask("admit", {"id": ana_wire.id}))["ok"]
    watcher = Peer(facilitator)
    peers = [watcher]
    engine: Any = server.app[MEDIA]
    try:
        for _ in range(4):  # a flaky network: the member's client publishes afresh four times
            ana = Peer(ana_wire)
            peers.append(ana)
            await ana.publish()
        open_now = [pc for pc in engine.connections() if pc.connectionState != "closed"]
        assert len(open_now) <= 4  # one publisher and one subscriber each, however often she republished
        stream = f"hearth-{ana_wire.id}"
        await until(lambda: watcher.got(stream, "video") > 64)
        async with server.http.get(f"{server.url}/metrics", headers=server.auth) as r:
            text = await r.text()
        figures = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in text.splitlines()
            if line.startswith("hearth_forward")
        }
        assert figures["hearth_forwarded_packets_total"] > 64
        assert figures["hearth_forwarded_bytes_total"] > 10_000
        assert figures["hearth_forward_latency_seconds_count"] >= 1
    finally:
        for peer in peers:
            await peer.close()


async def test_facilitator_alone_in_the_room_can_publish(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False)
    facilitator = Peer(await server.connect(session["facilitator_token"]))
    try:
        await facilitator.publish()  # asserts the ack is ok
    finally:
        await facilitator.close()
