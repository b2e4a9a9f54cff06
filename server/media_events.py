"""Media happenings delivered to clients: subscriber offers and speaking levels."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from signaling.emits import participant_room, speaking_emits
from signaling.sockets import SocketBus

Places = Callable[[str], Mapping[str, str]]


class SioMediaEvents:
    """``places`` says where each participant of a session is (``Hub.places``; set once the hub
    exists): speaking levels go only to those in the speaker's place, and to the facilitators."""

    def __init__(self, bus: SocketBus, places: Places | None = None) -> None:
        self.bus = bus
        self.places: Places = places or (lambda session_id: {})

    async def send_offer(self, session_id: str, participant_id: str, sdp: str, revision: int) -> None:
        await self.bus.emit(
            "rtc.offer",
            {"sdp": sdp, "type": "offer", "revision": revision},
            participant_room(session_id, participant_id),
        )

    async def speaking(self, session_id: str, levels: dict[str, float], active: str | None) -> None:
        for e in speaking_emits(session_id, self.places(session_id), levels, active):
            await self.bus.emit(e.event, e.data, e.room)
