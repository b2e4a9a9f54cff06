"""Consent freshness (RFC 7675) on the server's connections, with real aiortc peers on loopback.

A member whose answers to the server's consent checks come late (a phone on a congested cell, a full
router queue in front of a slow line) keeps its connection, and its media keeps reaching the others;
aioice's own checks gave up on any answer slower than 0.5 s and closed such a connection after six.
A member that stops answering altogether still loses its connection, and the loss is recorded.

The checks' pace is shortened here (``CHECK_EVERY``, ``EXPIRES_AFTER``) so a test sees many of them;
how a check is retransmitted is aioice's own (0.5 s, then doubling), which is what a slow answer meets.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aioice import stun

from rooms.model import stream_id_for
from server.media.seam import ice
from tests.media.clients import Client, PatternVideo, ToneAudio, wait_for
from tests.media.conftest import SESSION, Room

pytestmark = [pytest.mark.media, pytest.mark.slow]  # real aiortc peers on loopback

CHECK_EVERY = 0.3  # seconds between the server's consent checks in these tests (5 s in service)
EXPIRES_AFTER = 2.0  # seconds without an answer before consent expires here (30 s in service)
SLOW_ANSWER = 0.8  # seconds a slow member's answer takes: beyond aioice's 0.5 s, within a retransmission
CHECKS = 8  # slow answers a test waits for: several times what would have closed a connection before


class Answers:
    """The member's side of its publishing connection: how its ICE agent answers the server's STUN
    requests (test-only: aioice's protocol objects, as ``tests/media/clients.py`` reaches aiortc's)."""

    def __init__(self, client: Client, delay: float | None) -> None:
        """``delay``: seconds each answer is held back; None: no answer is sent at all."""
        assert client.publisher is not None
        transceiver = client.publisher.getTransceivers()[0]
        connection: Any = transceiver.sender.transport.transport._connection
        self.sent = 0
        loop = asyncio.get_running_loop()
        for protocol in connection._protocols:
            send = protocol.send_stun

            def answer(message: stun.Message, addr: tuple[str, int], send: Any = send) -> None:
                if message.message_class != stun.Class.RESPONSE:
                    send(message, addr)
                elif delay is not None:
                    loop.call_later(delay, self._send, send, message, addr)

            protocol.send_stun = answer

    def _send(self, send: Any, message: stun.Message, addr: tuple[str, int]) -> None:
        self.sent += 1
        send(message, addr)


@pytest.fixture
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ice, "CONSENT_INTERVAL", CHECK_EVERY)
    monkeypatch.setattr(ice, "CONSENT_TIMEOUT", EXPIRES_AFTER)


async def _publishing(room: Room) -> tuple[Client, Client]:
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(ToneAudio(), PatternVideo())
    await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= 5)
    return a, b


async def test_a_member_whose_consent_answers_are_slow_keeps_its_connection_and_its_media_flows(
    quick_checks: None, room: Room
) -> None:
    a, b = await _publishing(room)
    answers = Answers(a, SLOW_ANSWER)
    await wait_for(lambda: answers.sent >= CHECKS, timeout=60.0)  # each answered after the check's first wait
    video = b.received[(stream_id_for("a"), "video")]
    frames = video.frames
    await wait_for(lambda: video.frames >= frames + 10)
    assert (SESSION, "a", "publish") not in room.events.lost
    publisher = room.engine._rooms[SESSION].peers["a"].publisher
    assert publisher is not None and publisher.connectionState == "connected"


async def test_a_member_that_stops_answering_loses_consent_and_the_loss_is_recorded(
    quick_checks: None, room: Room
) -> None:
    a, _ = await _publishing(room)
    Answers(a, None)
    await wait_for(lambda: (SESSION, "a", "publish") in room.events.lost, timeout=60.0)
    peers = room.engine._rooms[SESSION].peers
    assert peers["a"].publisher is None  # torn down, as any dead connection
    receiving = peers["b"].subscriber  # the other member's connection is not touched
    assert receiving is not None and receiving.connectionState == "connected"
    assert (SESSION, "b", "receive") not in room.events.lost
