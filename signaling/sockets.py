"""The Socket.IO surface the hub needs, as a small port, and its python-socketio implementation.

Emits go to rooms (never to a list of sids), so that python-socketio's Redis manager can carry them
to whichever node holds the receiving sockets.
"""

from __future__ import annotations

from typing import Any, Protocol

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


class JsonPacket(socketio.packet.Packet):  # type: ignore[misc]
    """Socket.IO packets without the binary-attachment scan.

    python-socketio walks every emitted payload recursively looking for ``bytes`` (to split binary
    attachments); for a full ``session.state`` that walk cost more than the JSON encoding itself.
    Hearth never sends binary data, so outgoing packets skip the walk. Incoming binary packets are
    still decoded by type and then refused as ``invalid`` by the namespace (bytes are not JSON).
    """

    uses_binary_events = False
