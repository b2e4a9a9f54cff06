"""Media happenings delivered to clients and to the hub: subscriber offers, speaking levels, lost connections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from signaling.emits import participant_room, speaking_emits
from signaling.sockets import SocketBus

Places = Callable[[str], Mapping[str, str]]
ConnectionLost = Callable[[str, str, str], Awaitable[None]]  # session id, participant id, leg


class SioMediaEvents:
    """``places`` says where each participant of a session is (``Hub.places``; set once the hub
    exists): speaking levels go only to those in the speaker's place, and to the facilitators.
    ``on_connection_lost``: who hears that a participant's connection died (the hub turns a lost
    publisher into "not publishing"; set once the hub exists); by default nobody, as the engine has
    already dealt with it."""

    def __init__(
        self, bus: SocketBus, places: Places | None = None, on_connection_lost: ConnectionLost | None = None
    ) -> None:
        self.bus = bus
        self.places: Places = places or (lambda session_id: {})
        self.on_connection_lost = on_connection_lost

    async def send_offer(self, session_id: str, participant_id: str, sdp: str, revision: int) -> None:
        await self.bus.emit(
            "rtc.offer",
            {"sdp": sdp, "type": "offer", "revision": revision},
            participant_room(session_id, participant_id),
        )

    async def speaking(self, session_id: str, levels: dict[str, float], active: str | None) -> None:
        for e in speaking_emits(session_id, self.places(session_id), levels, active):
            await self.bus.emit(e.event, e.data, e.room)

    async def connection_lost(self, session_id: str, participant_id: str, leg: str) -> None:
        if self.on_connection_lost is not None:
            await self.on_connection_lost(session_id, participant_id, leg)
