"""Media happenings delivered to clients and the hub: offers, speaking levels, paused video, lost connections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from signaling.emits import leads_room, participant_room, speaking_emits
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

    async def video_layers(self, session_id: str, participant_id: str, rids: list[str]) -> None:
        """The publisher's page stops encoding the simulcast layers nobody needs, and starts them again."""
        await self.bus.emit("video.layers", {"rids": rids}, participant_room(session_id, participant_id))

    async def video_paused(self, session_id: str, participant_id: str, paused: list[str], audio_only: bool) -> None:
        """The member's page shows the paused people's tiles with why; the facilitators see who is
        on a weak link (and whether the server made them audio only) in their console."""
        await self.bus.emit(
            "video.paused", {"paused": paused, "audio_only": audio_only}, participant_room(session_id, participant_id)
        )
        await self.bus.emit(
            "link.weak",
            {"participant_id": participant_id, "paused": len(paused), "audio_only": audio_only},
            leads_room(session_id),
        )

    async def connection_lost(self, session_id: str, participant_id: str, leg: str) -> None:
        if self.on_connection_lost is not None:
            await self.on_connection_lost(session_id, participant_id, leg)
