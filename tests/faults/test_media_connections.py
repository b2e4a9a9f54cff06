"""A member's own connection dies (they close it, their page reloads): the rest of the session goes on.

Each test drives a real node in-process with real aiortc members over the wire (``media_session``).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import av
import pytest

from server.keys import MEDIA
from server.media.engine import retired_sections
from server.media.limits import MAX_RETIRED_SECTIONS
from server.media.seam import LeanReceiver, LeanSender
from tests.faults import media_session
from tests.faults.media_session import LiveSession, until
from tests.harness import Harness

pytestmark = [pytest.mark.media, pytest.mark.slow]


clip, server = media_session.clip, media_session.server  # the fixtures these tests take


async def test_a_member_closing_their_receiving_connection_gets_a_fresh_one_and_disturbs_no_one(
    server: Harness, clip: list[av.Packet]
) -> None:
    async with LiveSession.running(server, ["Ana", "Ben", "Cam"], clip) as live:
        cam = live.everyone["Cam"]
        closed = cam.subscriber
        rates, marks = await live.before_fault("Cam")
        await cam.close_subscriber()  # DTLS close_notify to the server's subscriber connection
        await live.assert_others_unaffected(rates, marks, "Cam")
        # Cam was never dropped: still publishing to everyone, and receiving again on a fresh connection.
        for other in live.others("Cam"):
            await live.until_receives(other, cam)
            await live.until_receives(cam, other)
        assert cam.subscriber is not closed and cam.refused == []
        await live.assert_can_end()


async def test_a_member_closing_their_publishing_connection_is_torn_down_and_can_publish_again(
    server: Harness, clip: list[av.Packet]
) -> None:
    engine: Any = server.app[MEDIA]
    async with LiveSession.running(server, ["Ana", "Ben", "Cam"], clip) as live:
        cam = live.everyone["Cam"]
        rates, marks = await live.before_fault("Cam")
        offers = {m.name: m.answered for m in live.others("Cam")}
        await cam.close_publisher()  # DTLS close_notify to the server's publisher connection
        await live.assert_others_unaffected(rates, marks, "Cam")
        # The dead connection is gone from the engine; Cam's tracks wait, parked, in everyone's
        # receiving connection for Cam's next publication: nobody else is renegotiated.
        room = engine._rooms[live.session_id]
        await until(lambda: not any(p.participant_id == cam.id for p in _publishers(engine, live.session_id)))
        await until(
            lambda: all(out.source is None for m in live.others("Cam") for out in _from(room, m.id, cam.id)), timeout=5
        )
        # The hub hears of it: the facilitator's view no longer lists a stream of Cam's.
        await live.facilitator.wire.state(
            lambda s: any(p["id"] == cam.id and p["stream_ids"] == [] for p in s["participants"])
        )
        stopped = time.monotonic()
        await asyncio.sleep(0.5)  # no frame of Cam's may arrive after its connection is gone
        assert all(m.got(cam.stream, "video", since=stopped) == 0 for m in live.others("Cam"))
        await cam.publish()  # Cam comes back: a new publishing connection
        for other in live.others("Cam"):
            await live.until_receives(other, cam)
        assert all(m.answered == offers[m.name] for m in live.others("Cam"))  # on the m-lines they had
        assert all(m.refused == [] for m in live.everyone.values())
        await live.assert_can_end()


async def test_a_member_whose_page_reloads_while_others_renegotiate_is_seated_again(
    server: Harness, clip: list[av.Packet]
) -> None:
    async with LiveSession.running(server, ["Ana", "Ben", "Cam"], clip) as live:
        cam = live.everyone["Cam"]
        dee = await live.join("Dee")  # admitted; her publish makes everyone renegotiate
        seen = live.facilitator.wire.count("session.state")
        rates, marks = await live.before_fault("Cam", "Dee")
        await cam.close()  # the page goes: its connections, then its socket
        await cam.wire.close()

        async def reload() -> None:
            back = await live.reconnect("Cam")
            await back.publish()

        await asyncio.gather(dee.publish(), reload())
        await live.assert_others_unaffected(rates, marks, "Cam", "Dee")
        dropped = await live.facilitator.wire.state(
            lambda s: any(p["id"] == cam.id and not p["connected"] for p in s["participants"]), since=seen
        )
        await live.facilitator.wire.state(
            lambda s: any(p["id"] == cam.id and p["connected"] for p in s["participants"]),
            since=live.facilitator.wire.received["session.state"].index(dropped),
        )
        await live.until_everyone_receives_everyone()
        assert all(m.refused == [] for m in live.everyone.values())
        await live.assert_can_end()


async def test_a_member_whose_renegotiation_is_stuck_delays_no_one_elses_publish(
    server: Harness, clip: list[av.Packet]
) -> None:
    """Ben's receiving connection is stuck mid-renegotiation (held here as a slow close or a fresh
    connection gathering on a loaded node holds it, seconds at a time in the soak). Ana republishes
    meanwhile: her answer comes at once and Cam receives her new stream; Ben gets it once he is free.
    Before, a publish renegotiated everyone in turn before answering, and every member's media call in
    the session queued behind the slowest peer."""
    engine: Any = server.app[MEDIA]
    async with LiveSession.running(server, ["Ana", "Ben", "Cam"], clip) as live:
        ana, ben, cam = (live.everyone[n] for n in ("Ana", "Ben", "Cam"))
        ben_peer = engine._rooms[live.session_id].peers[ben.id]
        answered = ben.answered
        async with ben_peer.lock:  # Ben's renegotiation cannot proceed while this is held
            await ana.close_publisher()
            await ana.publish()  # asserts the answer came (ok)
            await live.until_receives(cam, ana)
            await live.until_receives(live.facilitator, ana)
            assert ben.answered == answered  # Ben's offer is still to come: nothing waited for him
        await live.until_receives(ben, ana)
        assert all(m.refused == [] for m in live.everyone.values())
        await live.assert_can_end()


def _from(room: Any, subscriber_id: str, publisher_id: str) -> list[Any]:
    """The subscriber's outgoing tracks of one publisher (``engine.Outgoing``)."""
    return [out for (pub, _), out in room.peers[subscriber_id].outgoing.items() if pub == publisher_id]


def _publishers(engine: Any, session_id: str) -> list[Any]:
    room = engine._rooms[session_id]
    return [peer for peer in room.peers.values() if peer.publisher is not None]


async def test_a_member_who_republishes_again_and_again_leaves_nothing_behind_at_the_others(
    server: Harness, clip: list[av.Packet]
) -> None:
    """Each republish hands the track's m-line in every other member's receiving connection to the
    new publication (``Source.take_over``): nothing retires, nobody else is renegotiated or given a new
    connection, and the dead publications are let go (their receivers, kept packets, connections)."""
    engine = server.app[MEDIA]
    earlier = _lean_objects()  # what earlier tests in this process still hold is not this test's
    async with LiveSession.running(server, ["Ana", "Ben"], clip) as live:
        ana_first = ice_ufrag(engine, live, "Ana")
        offers = {m.name: m.answered for m in live.others("Ben")}
        for _ in range(MAX_RETIRED_SECTIONS // 2 + 3):  # past the point where Ana's was renewed before
            ben = live.everyone["Ben"]
            await ben.close_publisher()
            await ben.publish()
            await live.until_everyone_receives_everyone()
        room = engine._rooms[live.session_id]
        for name in ("Facilitator", "Ana"):
            peer = room.peers[live.everyone[name].id]
            assert peer.subscriber is not None and retired_sections(peer) == 0
        assert ice_ufrag(engine, live, "Ana") == ana_first  # Ana's receiving connection was never renewed
        assert all(m.answered == offers[m.name] for m in live.others("Ben"))
        await until(lambda: engine._closer.pending == 0, timeout=10)  # replaced connections close in the background
        live_senders = sum(len(peer.outgoing) for peer in room.peers.values())

        def left_behind() -> tuple[int, int]:
            senders, receivers = _lean_objects()
            return senders - earlier[0] - live_senders, receivers - earlier[1] - len(room.peers)

        # The last replaced connection may still be closing (aiortc's transports): wait for it to go.
        await until(lambda: left_behind() == (0, 0), timeout=10, describe=left_behind)
        await live.assert_can_end()


def _lean_objects() -> tuple[int, int]:
    """How many ``LeanSender`` and ``LeanReceiver`` objects this process holds, after a full collection."""
    gc.collect()
    objects = gc.get_objects()
    return sum(isinstance(o, LeanSender) for o in objects), sum(isinstance(o, LeanReceiver) for o in objects)


def ice_ufrag(engine: Any, live: LiveSession, name: str) -> str:
    """The ICE ufrag of the server's receiving connection to ``name`` (a new one is a new connection)."""
    peer = engine._rooms[live.session_id].peers[live.everyone[name].id]
    sdp = peer.subscriber.localDescription.sdp
    return next(line for line in sdp.splitlines() if line.startswith("a=ice-ufrag:"))
