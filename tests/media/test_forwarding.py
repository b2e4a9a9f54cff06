"""End-to-end forwarding between real aiortc peers: who receives what, and that it decodes."""

from __future__ import annotations

import logging

import pytest

from rooms.model import stream_id_for
from tests.media.clients import PatternVideo, ToneAudio, wait_for
from tests.media.conftest import Room

pytestmark = pytest.mark.media


async def test_three_publishers_each_receive_the_other_two_and_decode(
    room: Room, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    ids = ["a", "b", "c"]
    await room.policy(set(ids))
    clients = [room.client(pid) for pid in ids]
    for client in clients:
        await client.publish(ToneAudio(), PatternVideo())

    def everyone_gets_enough() -> bool:
        return all(
            client.received[(stream_id_for(other), kind)].frames >= 20
            for client in clients
            for other in ids
            if other != client.participant_id
            for kind in ("audio", "video")
        )

    await wait_for(everyone_gets_enough, timeout=15)
    for client in clients:
        own = (stream_id_for(client.participant_id), "video")
        assert client.received[own].frames == 0
    assert "failed to decode" not in caplog.text
