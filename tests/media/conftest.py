"""Fixtures that start a real ``MediaEngine`` and real aiortc clients on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from rooms.model import stream_id_for
from server.media.engine import MediaEngine
from signaling.ports import ForwardingPolicy
from tests.async_chromium import browser
from tests.media.clients import Client, PatternVideo, Recorder, record_handed, wait_for

__all__ = ["browser"]  # the fixture: Chromium under the async API (test_simulcast_chromium.py)

SESSION = "s1"


class Room:
    """An engine, its event recorder and the clients joined so far."""

    def __init__(self, engine: MediaEngine, events: Recorder) -> None:
        self.engine = engine
        self.events = events

    def client(self, participant_id: str) -> Client:
        client = Client(self.engine, SESSION, participant_id)
        self.events.clients[participant_id] = client
        return client

    async def policy(
        self,
        members: set[str],
        audible: set[str] | None = None,
        places: dict[str, str] | None = None,
        audio_only: set[str] | None = None,
        floor: str | None = None,
    ) -> None:
        heard = frozenset(members if audible is None else audible)
        policy = ForwardingPolicy(frozenset(members), heard, places or {}, frozenset(audio_only or ()), floor)
        await self.engine.set_policy(SESSION, policy)

    async def video_from_a_to_b(self) -> tuple[Client, Client, list[Any]]:
        """Clients "a" and "b": a publishes a pattern video, b receives it (ten frames decoded), and the
        RTCP a's video sender is handed from now on is kept (the list returned)."""
        await self.policy({"a", "b"})
        a, b = self.client("a"), self.client("b")
        await a.publish(PatternVideo())
        await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= 10, timeout=10)
        assert a.publisher is not None
        return a, b, record_handed(a.publisher.getSenders()[0], "_handle_rtcp_packet")

    async def close(self) -> None:
        for client in self.events.clients.values():
            await client.close()
        await self.engine.close()


@pytest.fixture
async def room() -> AsyncIterator[Room]:
    events = Recorder()
    # Forwarding itself, without the allocator: these tests' clients share two cores and drop packets
    # under load, which the allocator would take for congestion (it has tests of its own).
    room = Room(MediaEngine(events, allow_loopback=True, adapt_bandwidth=False), events)
    yield room
    await room.close()


StreamKey = Callable[[str], str]
