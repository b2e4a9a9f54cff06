"""The Socket.IO surface the hub needs, as a small port, and its python-socketio implementation.

Emits go to rooms (audiences), delivered by this node only: a session's sockets all live on the node
that holds the session, so nothing it says travels over a message bus.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import engineio
import engineio.json
import orjson
import socketio

from signaling.gate import Refused, UnauthenticatedGate, Wait


class SocketBus(Protocol):
    async def emit(self, event: str, data: dict[str, Any], room: str) -> None: ...

    async def enter(self, sid: str, room: str) -> None: ...

    async def leave(self, sid: str, room: str) -> None: ...

    async def disconnect(self, sid: str) -> None: ...

    def connected(self, sid: str) -> bool:
        """Whether the socket is still connected (not gone, nor on its way out)."""
        ...


class SioBus:
    def __init__(self, sio: socketio.AsyncServer, namespace: str = "/") -> None:
        self.sio, self.namespace = sio, namespace

    async def emit(self, event: str, data: dict[str, Any], room: str) -> None:
        await self.sio.emit(event, data, to=room, namespace=self.namespace)

    async def enter(self, sid: str, room: str) -> None:
        await self.sio.enter_room(sid, room, namespace=self.namespace)

    async def leave(self, sid: str, room: str) -> None:
        await self.sio.leave_room(sid, room, namespace=self.namespace)

    async def disconnect(self, sid: str) -> None:
        await self.sio.disconnect(sid, namespace=self.namespace)

    def connected(self, sid: str) -> bool:
        """Known to the manager and not on its way out. Unlike ``is_connected``, true while the connect
        handler's CONNECT is still being sent (seating may start then). Seam: ``pending_disconnect``."""
        manager = self.sio.manager
        if sid in manager.pending_disconnect.get(self.namespace, ()):
            return False
        return manager.eio_sid_from_sid(sid, self.namespace) is not None


class FanOut(socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's room manager, sending a room emit to its sockets in one pass.

    The stock manager wraps each recipient's send in its own task and waits on them all; a send is
    only a put on the socket's unbounded outgoing queue, so the tasks cost more than the sends (at
    500 changes a second, 8 recipients each). This one encodes once and puts in turn, in room order.
    Emits with an ack callback go the stock way. Seam: ``get_participants`` and
    ``server._send_eio_packet`` (pinned python-socketio 5.x; ``tests/signaling/test_sockets.py``).
    """

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: str | None = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if callback is not None or skip_sid is not None or room is None or not isinstance(data, dict):
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback)
            return
        if namespace not in self.rooms:
            return
        encoded = self.server.packet_class(socketio.packet.EVENT, namespace=namespace, data=[event, data]).encode()
        message = engineio.packet.Packet(engineio.packet.MESSAGE, encoded)
        for _sid, eio_sid in self.get_participants(namespace, room):
            await self.server._send_eio_packet(eio_sid, message)


def client_address(environ: dict[str, Any]) -> str:
    """The peer address of an Engine.IO request (engineio's aiohttp driver writes a fixed REMOTE_ADDR)."""
    request = environ.get("aiohttp.request")
    remote = getattr(request, "remote", None)
    return str(remote) if remote else "unknown"


RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "__disconnect_final"})


class HearthServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server, refusing client events that bear a lifecycle event's name, and
    bounding connections that have not authenticated (``signaling.gate``).

    python-socketio dispatches a client-sent event named ``disconnect`` to the same handler as a real
    disconnect, so without this a member could detach themselves on paper (or a facilitator put the
    room on hold) while still connected. The overrides sit on ``_handle_event_internal``,
    ``_handle_eio_connect``, ``_handle_connect`` and ``_handle_eio_disconnect`` (pinned python-socketio
    5.x; ``tests/hardening/test_authorization_matrix.py`` and ``tests/signaling/test_sockets.py`` fail
    by name if they move).
    """

    def __init__(
        self,
        *args: Any,
        auth_timeout: float,
        unauthenticated_per_address: int,
        handshakes_per_second: float,
        **kw: Any,
    ):
        super().__init__(*args, **kw)
        self.gate = UnauthenticatedGate(
            auth_timeout, unauthenticated_per_address, handshakes_per_second, self._close_unauthenticated
        )

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        decision = self.gate.arrive(eio_sid, client_address(environ))
        if isinstance(decision, Refused):
            return decision.reason  # engine.io answers the handshake 401 with it
        if isinstance(decision, Wait):
            await asyncio.sleep(decision.seconds)  # the WebSocket upgrade follows this handler's return
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is not None and self.manager.is_connected(sid, namespace):
            self.gate.authenticated(eio_sid)

    async def _handle_eio_disconnect(self, eio_sid: str, *args: Any) -> None:
        self.gate.leave(eio_sid)
        await super()._handle_eio_disconnect(eio_sid, *args)

    async def _close_unauthenticated(self, eio_sid: str) -> None:
        """Close the transport itself: engine.io's ``disconnect`` only sends a CLOSE packet, which a
        client that means harm ignores. A ``None`` in the socket's queue ends its WebSocket writer,
        which closes the WebSocket (seam: ``AsyncSocket.queue``)."""
        with contextlib.suppress(Exception):
            socket = self.eio._get_socket(eio_sid)
            await self.eio.disconnect(eio_sid)
            await socket.queue.put(None)

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: list[Any], namespace: str, id: int | None
    ) -> None:
        if data and isinstance(data[0], str) and data[0] in RESERVED_EVENTS:
            if id is not None:
                refusal = {"ok": False, "error": {"code": "invalid", "message": "reserved event name"}}
                await server._send_packet(
                    eio_sid, self.packet_class(socketio.packet.ACK, namespace=namespace, id=id, data=[refusal])
                )
            return
        await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)


class FastJson:
    """The JSON codec of Hearth's packets: orjson out, engineio's guarded standard-library decoder in.

    Every change sends a ~2.5 KB ``session.state`` to up to three audiences; the standard library
    took about 55 us to encode one, orjson about 5 us. Incoming events stay on engineio's ``loads``:
    they are small, and its rules (integers over 100 digits refused, a CPU guard) are what the
    hardening tests pin.
    """

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    loads = staticmethod(engineio.json.loads)


class JsonPacket(socketio.packet.Packet):  # type: ignore[misc]
    """Socket.IO packets without the binary-attachment scan, encoded with ``FastJson``.

    python-socketio walks every emitted payload recursively looking for ``bytes`` (to split binary
    attachments); for a full ``session.state`` that walk cost more than the JSON encoding itself.
    Hearth never sends binary data, so outgoing packets skip the walk. Incoming binary packets are
    still decoded by type and then refused as ``invalid`` by the namespace (bytes are not JSON).
    """

    uses_binary_events = False
    json = FastJson
