"""ICE settings aioice has no public knob for: loopback host candidates and larger receive buffers.

aioice skips 127.0.0.1 when it lists host addresses, so tests and single-machine demos add it back
(process-wide, never the production default); ``enlarge_receive_buffers`` reaches a connection's ICE
sockets through aioice's ``Connection._protocols``.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import aioice.ice

_original_host_addresses = aioice.ice.get_host_addresses


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
