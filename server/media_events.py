"""Media happenings delivered to clients (subscriber offers, speaking levels) and to the hub (lost connections)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from signaling.emits import leads_room, members_room, participant_room
from signaling.sockets import SocketBus

ConnectionLost = Callable[[str, str, str], Awaitable[None]]  # session id, participant id, leg


class SioMediaEvents:
    """``on_connection_lost``: who hears that a participant's connection died (the hub turns a lost
    publisher into "not publishing"); by default nobody, as the engine has already dealt with it."""

    def __init__(self, bus: SocketBus, on_connection_lost: ConnectionLost | None = None) -> None:
        self.bus = bus
        self.on_connection_lost = on_connection_lost

    async def send_offer(self, session_id: str, participant_id: str, sdp: str, revision: int) -> None:
        await self.bus.emit(
            "rtc.offer",
            {"sdp": sdp, "type": "offer", "revision": revision},
            participant_room(session_id, participant_id),
        )

    async def speaking(self, session_id: str, levels: dict[str, float], active: str | None) -> None:
        data = {"levels": {k: round(v, 3) for k, v in levels.items()}, "active": active}
        await self.bus.emit("speaking", data, leads_room(session_id))
        await self.bus.emit("speaking", data, members_room(session_id))

    async def connection_lost(self, session_id: str, participant_id: str, leg: str) -> None:
        if self.on_connection_lost is not None:
            await self.on_connection_lost(session_id, participant_id, leg)
