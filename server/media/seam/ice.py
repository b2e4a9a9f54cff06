"""ICE settings aioice has no public knob for: loopback host candidates, larger receive buffers, and
consent freshness as RFC 7675 has it.

aioice skips 127.0.0.1 when it lists host addresses, so tests and single-machine demos add it back
(process-wide, never the production default); ``enlarge_receive_buffers`` reaches a connection's ICE
sockets through aioice's ``Connection._protocols``.

Consent: aioice 0.13 sends each consent check once and counts it failed when no answer came within
0.5 s; six failures in a row (about 30 s) close the connection. A member whose answers take longer
than half a second (a phone on a congested cell, a home router's full queue in front of a slow line:
0.6 s at 400 kbit/s behind a 30 KB buffer) failed every check while its media flowed, and lost its
connection every half minute. RFC 7675 (section 5.1) retransmits a check like any STUN request and
lets consent expire only when no answer has come for 30 s: ``install_consent_freshness`` puts that
in place of aioice's ``Connection.query_consent``, process-wide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from typing import Any

import aioice.ice
from aioice import stun

log = logging.getLogger(__name__)

CONSENT_INTERVAL = 5.0  # seconds between checks, randomised to 0.8-1.2x (RFC 7675 section 5.1)
CONSENT_TIMEOUT = 30.0  # seconds without any answer after which consent expires (RFC 7675 section 5.1)
# Sends of one check: at 0, 0.5 and 1.5 s (aioice's RTO doubling from 0.5 s); it waits for an answer
# until 3.5 s, inside the next check's earliest start (0.8 x CONSENT_INTERVAL).
CONSENT_RETRANSMISSIONS = 2

_original_host_addresses = aioice.ice.get_host_addresses
_original_query_consent = aioice.ice.Connection.query_consent


def _host_addresses_with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses: list[str] = _original_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    if use_ipv4 and "127.0.0.1" not in addresses:
        addresses.append("127.0.0.1")
    return addresses


def enlarge_receive_buffers(pc: Any, size: int) -> None:
    """Ask for ``size`` bytes of kernel receive buffer on a connection's ICE sockets (capped by rmem_max).

    A publisher's burst (a keyframe is dozens of packets) must not overflow while the event loop is
    busy forwarding: every packet lost upstream is lost for every subscriber until NACK repairs it.
    """
    for transceiver in pc.getTransceivers()[:1]:  # bundled: one ICE transport for all of them
        for protocol in transceiver.receiver.transport.transport._connection._protocols:
            sock = protocol.transport.get_extra_info("socket") if protocol.transport else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def enable_loopback_candidates() -> None:
    """Process-wide: aioice will also offer 127.0.0.1 host candidates (tests and local demos only)."""
    aioice.ice.get_host_addresses = _host_addresses_with_loopback


async def _query_consent(self: aioice.ice.Connection) -> None:
    """Check consent every ``CONSENT_INTERVAL`` on each nominated pair, each check retransmitted;
    close the connection once ``CONSENT_TIMEOUT`` has passed since the last answer on every pair."""
    assert self.remote_password is not None  # consent checks start once connect() has it
    loop = asyncio.get_running_loop()
    answered = loop.time()
    while True:
        await asyncio.sleep(CONSENT_INTERVAL * (0.8 + 0.4 * random.random()))
        for pair in list(self._nominated.values()):
            request = self.build_request(pair, nominate=False)
            with contextlib.suppress(stun.TransactionError):
                await pair.protocol.request(
                    request,
                    pair.remote_addr,
                    integrity_key=self.remote_password.encode("utf8"),
                    retransmissions=CONSENT_RETRANSMISSIONS,
                )
                answered = loop.time()
        if loop.time() - answered >= CONSENT_TIMEOUT:
            log.info("ICE consent expired: no answer for %.0f s", loop.time() - answered)
            self._query_consent_task = None
            await self.close()
            return


def install_consent_freshness() -> None:
    """Idempotent, process-wide: every aioice connection checks consent as RFC 7675 says (above)."""
    aioice.ice.Connection.query_consent = _query_consent  # type: ignore[method-assign]
