"""A member whose network drops gets their seat, queue place and media back on reconnect."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from rooms.model import stream_id_for
from tests.harness import Harness, running_server
from tests.integration.wire_peer import Peer, until


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Harness]:
    async with running_server(media=True, allow_loopback=True, grace_seconds=30.0) as harness:
        yield harness


async def test_dropped_member_rejoins_with_seat_queue_place_and_media(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False)
    facilitator = await server.connect(session["facilitator_token"])
    ana_invite = await server.invite(session["id"], "Ana")
    ana_wire = await server.connect(ana_invite["token"])
    ben_wire = await server.join(session["id"], "Ben")
    for wire in (ana_wire, ben_wire):
        assert (await facilitator.ask("admit", {"id": wire.id}))["ok"]
    ana, ben = Peer(ana_wire), Peer(ben_wire)
    peers = [ana, ben]
    try:
        for peer in peers:
            await peer.publish()
        ana_stream, ben_stream = stream_id_for(ana_wire.id), stream_id_for(ben_wire.id)
        await until(lambda: ben.got(ana_stream, "video") > 5 and ana.got(ben_stream, "video") > 5)
        assert (await ana_wire.ask("hand.raise"))["ok"]
        assert (await ben_wire.ask("hand.raise"))["ok"]

        await ana.close()  # the network drops: socket and both media connections are gone
        await ana_wire.sio.disconnect()
        state = await facilitator.state(
            lambda s: any(p["id"] == ana_wire.id and not p["connected"] for p in s["participants"])
        )
        assert state["queue"] == [ana_wire.id, ben_wire.id]  # her place is kept

        mark = facilitator.count("session.state")
        back_wire = await server.connect(ana_invite["token"])
        assert back_wire.last("welcome")["you"]["status"] == "admitted"
        back = Peer(back_wire)
        peers.append(back)
        await back.publish()
        seen = ben.got(ana_stream, "video")
        await until(lambda: back.got(ben_stream, "video") > 5 and ben.got(ana_stream, "video") > seen + 5)
        state = await facilitator.state(
            lambda s: any(p["id"] == ana_wire.id and p["connected"] for p in s["participants"]), since=mark
        )
        assert state["queue"] == [ana_wire.id, ben_wire.id]
    finally:
        for peer in peers:
            await peer.close()
