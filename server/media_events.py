"""Media happenings delivered to clients: subscriber offers and speaking levels."""

from __future__ import annotations

from signaling.emits import leads_room, members_room, participant_room
from signaling.sockets import SocketBus


class SioMediaEvents:
    def __init__(self, bus: SocketBus) -> None:
        self.bus = bus

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
