"""Closing participants, sessions and the engine leaves no task, queue, thread or open transport."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import pytest

from rooms.model import stream_id_for
from server.media.engine import MediaEngine
from signaling.ports import ForwardingPolicy
from tests.media.clients import Client, PatternVideo, Recorder, ToneAudio, wait_for

pytestmark = [pytest.mark.media, pytest.mark.slow]  # real aiortc peers on loopback

SESSION = "s1"


async def test_teardown_leaves_nothing_behind() -> None:
    tasks_before = set(asyncio.all_tasks())
    events = Recorder()
    engine = MediaEngine(events, allow_loopback=True)
    ids = ["a", "b", "c"]
    await engine.set_policy(SESSION, ForwardingPolicy(frozenset(ids), frozenset(ids)))
    clients = {pid: Client(engine, SESSION, pid) for pid in ids}
    events.clients.update(clients)
    for client in clients.values():
        await client.publish(ToneAudio(), PatternVideo())
    await wait_for(lambda: clients["c"].received[(stream_id_for("a"), "video")].frames >= 10, timeout=10)

    a_connections = [pc for pc in engine.connections() if pc in _peer_connections(engine, "a")]
    outlets = _outlets(engine)  # compiled copies hold a dup of their socket: it must close with them
    a_outlets = [o for o in outlets if o.subscriber_id == "a"]
    assert a_outlets
    # c's tracks reach a after a's renegotiation: its outlets link on the first packet after that.
    await wait_for(lambda: all(o.outlet is None or o.outlet.linked for o in a_outlets), timeout=10)
    await engine.close_participant(SESSION, "a")
    assert all(o.outlet is None or not o.outlet.linked for o in a_outlets)
    assert a_connections and all(pc not in engine.connections() for pc in a_connections)
    # Closing goes on in the background (nobody waits for aiortc's transports): it ends by itself.
    await wait_for(lambda: all(pc.connectionState == "closed" for pc in a_connections), timeout=10)
    await wait_for(lambda: all(not c.tasks or c.revisions for c in clients.values()))
    assert not any(sink.subscriber_id == "a" for source in _sources(engine) for sink in source.sinks)

    connections = engine.connections()
    await engine.close()
    assert all(pc.connectionState == "closed" for pc in connections)
    assert engine.sessions() == [] and engine.connections() == []
    assert all(o.outlet is None or not o.outlet.linked for o in outlets)
    for client in clients.values():
        await client.close()
    await asyncio.gather(*events.tasks, return_exceptions=True)

    def leftover() -> list[asyncio.Task[Any]]:
        return [t for t in asyncio.all_tasks() - tasks_before if t is not asyncio.current_task()]

    with contextlib.suppress(AssertionError):  # tasks that end by themselves get the time to: then judge
        await wait_for(lambda: not leftover(), timeout=5)
    assert leftover() == [], leftover()
    decoders = [t.name for t in threading.enumerate() if "decoder" in t.name]
    assert decoders == [], decoders  # the clients' decoder threads end with their receivers


def _peer_connections(engine: MediaEngine, participant_id: str) -> list[object]:
    room = engine._rooms[SESSION]
    peer = room.peers[participant_id]
    return [pc for pc in (peer.publisher, peer.subscriber) if pc is not None]


def _sources(engine: MediaEngine) -> list[object]:
    room = engine._rooms[SESSION]
    return [source for peer in room.peers.values() for source in peer.sources.values()]


def _outlets(engine: MediaEngine) -> list[Any]:
    """Every sink of the session (its ``outlet`` is None on the Python path)."""
    return [sink for source in _sources(engine) for sink in source.sinks]  # type: ignore[attr-defined]
