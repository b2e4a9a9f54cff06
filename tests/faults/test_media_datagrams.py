"""Junk datagrams from a stranger to every media port of the node: dropped, counted, and nobody notices.

Before the socket guard, one empty datagram closed the connection it reached (aioice queued it as
data and aiortc's DTLS transport read ``data[0]``), and a short one to a receiving connection's port
raised in the event loop. Here a stranger with none of the session's secrets sends empty, 1-byte and
11-byte datagrams, random bytes and junk of each protocol's shape to every ICE port of both legs.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import struct
from typing import Any

import av
import pytest

from server.keys import MEDIA
from tests.faults import media_session
from tests.faults.media_session import LiveSession, candidates
from tests.harness import Harness

pytestmark = [pytest.mark.media, pytest.mark.slow]

RANDOM_PER_PORT = 200


clip, server = media_session.clip, media_session.server  # the fixtures these tests take


def junk() -> list[bytes]:
    """One of each shape the guard must refuse, then random bytes of random lengths (seeded)."""
    stun_header = struct.pack("!HHI", 0x0001, 8, 0x2112A442) + os.urandom(12)
    shapes = [
        b"",
        b"\x00",
        bytes(11),
        os.urandom(11),
        stun_header + b"\x00\x03\x00\x02\x00\x00\x00\x00",  # CHANGE-REQUEST of 2 bytes: aioice raises struct.error
        struct.pack("!HHI", 0x0001, 0, 0) + os.urandom(12),  # STUN without its magic cookie
        bytes([0x16, 0xFE, 0xFD]) + os.urandom(40),  # a DTLS record from nobody
        bytes([0x80, 0x60]) + os.urandom(100),  # RTP from nobody
        bytes([0x80, 0xC8]) + os.urandom(30),  # RTCP from nobody
        bytes([0x40]) + os.urandom(30),  # TURN channel data: no protocol of ours
    ]
    rng = random.Random(13)
    return shapes + [rng.randbytes(rng.randrange(0, 1200)) for _ in range(RANDOM_PER_PORT)]


async def test_junk_to_every_media_port_of_both_legs_is_dropped_and_disturbs_no_one(
    server: Harness, clip: list[av.Packet]
) -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    live = await LiveSession.start(server, ["Ana", "Ben"], clip)
    engine: Any = server.app[MEDIA]
    try:
        ports: set[tuple[str, int]] = set()
        for member in live.everyone.values():
            assert member.publisher is not None and member.subscriber is not None
            ports |= candidates(member.publisher.remoteDescription.sdp)  # the server's answer: publishing leg
            ports |= candidates(member.subscriber.remoteDescription.sdp)  # the server's offer: receiving leg
        ports = {(host, port) for host, port in ports if ":" not in host}  # the stranger speaks IPv4
        connections = engine.connections()
        assert len(connections) == 6 and len(ports) >= 6  # each connection's own ICE socket(s)
        before = engine.stats()["dropped"]
        datagrams = junk()
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rates, marks = await live.before_fault()
        try:
            for port in sorted(ports):
                for data in datagrams:
                    stranger.sendto(data, port)
                await asyncio.sleep(0)  # let the server read its sockets between ports
        finally:
            stranger.close()
        await live.assert_others_unaffected(rates, marks)
        assert all(pc.connectionState == "connected" for pc in connections), [c.connectionState for c in connections]
        assert engine.connections() == connections  # none was torn down and replaced
        dropped = engine.stats()["dropped"]
        refused = sum(dropped.values()) - sum(before.values())
        assert refused >= len(ports) * 9, dropped  # every shape above but the random ones, at least
        assert dropped["short"] - before["short"] >= len(ports) * 3
        assert dropped["unknown_source"] - before["unknown_source"] >= len(ports) * 3
        assert dropped["refused"] - before["refused"] >= len(ports)  # aioice's struct.error, counted
        async with server.http.get(f"{server.url}/metrics", headers=server.auth) as r:
            text = await r.text()
        shown = re.search(r'hearth_media_dropped_packets_total\{reason="short"\} (\S+)', text)
        assert shown and float(shown.group(1)) >= dropped["short"], text
        assert unhandled == []  # not one "Unhandled exception in event loop"
        await live.assert_can_end()
    finally:
        loop.set_exception_handler(None)
        await live.close()
