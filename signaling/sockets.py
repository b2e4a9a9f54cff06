"""The Socket.IO surface the hub needs, as a small port, and its python-socketio implementation.

Emits go to rooms (never to a list of sids), so that python-socketio's Redis manager can carry them
to whichever node holds the receiving sockets.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import orjson
import socketio


class SocketBus(Protocol):
    async def emit(self, event: str, data: dict[str, Any], room: str) -> None: ...

    async def enter(self, sid: str, room: str) -> None: ...

    async def leave(self, sid: str, room: str) -> None: ...

    async def disconnect(self, sid: str) -> None: ...


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


RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "__disconnect_final"})


class HearthServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server, refusing client events that bear a lifecycle event's name.

    python-socketio dispatches a client-sent event named ``disconnect`` to the same handler as a real
    disconnect, so without this a member could detach themselves on paper (or a facilitator put the
    room on hold) while still connected. The override sits on ``_handle_event_internal`` (pinned
    python-socketio 5.x; ``tests/hardening/test_authorization_matrix.py`` fails by name if it moves).
    """

    async def _handle_event_internal(self, server: Any, sid: str, eio_sid: str, data: list[Any],
                                     namespace: str, id: int | None) -> None:
        if data and isinstance(data[0], str) and data[0] in RESERVED_EVENTS:
            if id is not None:
                refusal = {"ok": False, "error": {"code": "invalid", "message": "reserved event name"}}
                await server._send_packet(eio_sid, self.packet_class(
                    socketio.packet.ACK, namespace=namespace, id=id, data=[refusal]))
            return
        await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)


class FastJson:
    """The JSON codec of Hearth's packets: orjson out, the standard library in.

    Every change sends a ~2.5 KB ``session.state`` to up to three audiences; the standard library
    took about 55 us to encode one, orjson about 5 us. Incoming events stay on ``json.loads``: they
    are small, and its acceptance rules (big integers, duplicate keys) are what the validation tests pin.
    """

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    loads = staticmethod(json.loads)


class JsonPacket(socketio.packet.Packet):  # type: ignore[misc]
    """Socket.IO packets without the binary-attachment scan, encoded with ``FastJson``.

    python-socketio walks every emitted payload recursively looking for ``bytes`` (to split binary
    attachments); for a full ``session.state`` that walk cost more than the JSON encoding itself.
    Hearth never sends binary data, so outgoing packets skip the walk. Incoming binary packets are
    still decoded by type and then refused as ``invalid`` by the namespace (bytes are not JSON).
    """

    uses_binary_events = False
    json = FastJson
