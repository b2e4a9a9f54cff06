"""A connection's way to the wire, as aiortc, aioice and pylibsrtp keep it: shared by both lean paths.

The receive side, the send side and subscriber RTCP all need the same internals: the nominated ICE
pair once DTLS is up, the ICE sockets' ``datagram_received`` to wrap, pylibsrtp's buffer and context
for SRTP without its per-call overhead, and a stand-in for the RTCP task aiortc runs per sender and
per receiver. ``send_rtcp`` is the one way this package sends an RTCP packet it built itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pylibsrtp
import pylibsrtp._binding as _srtp  # type: ignore[import-not-found]

SRTP_TRAILER = 16 + 128  # pylibsrtp's SRTP_MAX_TRAILER_LEN headroom, kept as in Session.protect
SRTCP_MAX = 1500 - (4 + SRTP_TRAILER)  # the longest packet Session.protect_rtcp takes: its buffer less the trailer

Datagrams = Callable[[bytes, Any], None]
Route = tuple[Any, Any]  # the nominated pair's datagram transport and the remote address


def nominated_route(dtls: Any) -> Route | None:
    """The nominated ICE pair's datagram transport and remote address, once DTLS is connected."""
    if dtls._tx_srtp is None or dtls.state != "connected":
        return None
    pair = dtls.transport._connection._nominated.get(1)
    transport = pair.protocol.transport if pair is not None else None
    if transport is None or transport.is_closing():
        return None
    return transport, pair.remote_addr


def send_rtcp(dtls: Any, route: Route, packet: bytes) -> bool:
    """SRTCP-protect ``packet`` with ``dtls``'s session and send it on ``route``; False if it did not go.

    ``route`` is what ``nominated_route(dtls)`` returned just before (so the transport is neither
    closed nor closing). A socket error or an SRTP refusal loses this one packet and never raises:
    the callers are the room loop and ICE socket callbacks, which must go on (RTCP is best-effort, and
    the next report or NACK follows).
    """
    try:
        route[0].sendto(dtls._tx_srtp.protect_rtcp(packet), route[1])
    except (OSError, pylibsrtp.Error):
        return False
    return True


class SocketHooks:
    """The ICE sockets of one connection whose ``datagram_received`` is wrapped: each once, all undone on close.

    Seam: aioice's ``Connection._protocols`` and the per-instance ``datagram_received`` override
    (pinned by ``tests/media/test_seam.py``).
    """

    def __init__(self) -> None:
        self.wrapped: list[Any] = []

    def wrap(self, dtls: Any, hook: Callable[[Datagrams], Datagrams]) -> None:
        for protocol in dtls.transport._connection._protocols:
            if protocol not in self.wrapped:
                self.wrapped.append(protocol)
                protocol.datagram_received = hook(protocol.datagram_received)

    def unwrap(self) -> None:
        for protocol in self.wrapped:
            with contextlib.suppress(AttributeError):
                del protocol.datagram_received
        self.wrapped.clear()


def srtp_internals(session: Any) -> tuple[Any, Any, Any] | None:
    """pylibsrtp ``Session``'s libsrtp context, cffi buffer and its cdata: None if they are not where
    pylibsrtp 1.0 keeps them (callers then use the public methods)."""
    try:
        return session._srtp[0], session._cdata, session._buffer
    except AttributeError:
        return None


def fast_srtp(session: Any, unprotect: bool = False, rtcp: bool = False) -> Callable[[bytes], bytes]:
    """``Session.(un)protect(_rtcp)`` without their per-call checks and allocation (1.4 of 4.4 us here).

    Uses pylibsrtp's own buffer and context, exactly as ``Session`` does; falls back to the public
    method if those are not where pylibsrtp 1.0 keeps them. Raises ``pylibsrtp.Error`` as they do,
    and also where they raise ``ValueError`` for a datagram longer than the buffer when unprotecting:
    no packet a peer protected is that long, so it is refused as a forgery is (the socket callbacks drop
    on ``pylibsrtp.Error``; a ``ValueError`` escaped them, where the compiled path drops it).
    """
    internals = srtp_internals(session)
    if internals is None:
        name = ("unprotect" if unprotect else "protect") + ("_rtcp" if rtcp else "")
        public: Callable[[bytes], bytes] = getattr(session, name)
        if not unprotect:
            return public

        def refusing(data: bytes) -> bytes:
            try:
                return public(data)
            except ValueError as exc:  # "packet is too long"
                raise pylibsrtp.Error(str(exc)) from exc

        return refusing
    srtp, cdata, buffer = internals
    length = _srtp.ffi.new("int *")
    process = getattr(_srtp.lib, ("srtp_unprotect" if unprotect else "srtp_protect") + ("_rtcp" if rtcp else ""))
    limit = len(cdata) - (0 if unprotect else SRTP_TRAILER)

    def fast(data: bytes) -> bytes:
        size = len(data)
        if size > limit:
            if unprotect:
                raise pylibsrtp.Error(f"a datagram of {size} bytes is longer than any SRTP packet")
            raise ValueError("packet is too long")
        length[0] = size
        buffer[0:size] = data
        status = process(srtp, cdata, length)
        if status:
            raise pylibsrtp.Error(f"srtp_{'un' if unprotect else ''}protect failed: {status}")
        processed: bytes = buffer[0 : length[0]]  # slicing the cffi buffer copies out
        return processed

    return fast


async def parked_rtcp(owner: Any, prefix: str) -> None:
    """Stands in for an aiortc sender's or receiver's ``_run_rtcp``: this package sends the reports.

    Signals the events ``stop()`` waits for, and parks until ``stop()`` cancels it (no timer).
    """
    getattr(owner, f"{prefix}__rtcp_started").set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.get_running_loop().create_future()
    getattr(owner, f"{prefix}__rtcp_exited").set()
