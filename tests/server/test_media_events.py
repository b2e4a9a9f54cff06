"""Speaking levels on their way to clients: each place hears only its own, facilitators every place."""

from __future__ import annotations

from typing import Any

from server.media_events import SioMediaEvents
from signaling.emits import leads_room, members_room


class RecordingBus:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], str]] = []

    async def emit(self, event: str, data: dict[str, Any], room: str) -> None:
        self.sent.append((event, data, room))

    async def enter(self, sid: str, room: str) -> None: ...

    async def leave(self, sid: str, room: str) -> None: ...

    async def disconnect(self, sid: str) -> None: ...

    def connected(self, sid: str) -> bool:
        return True


async def test_speaking_levels_follow_the_places_the_hub_reports() -> None:
    bus = RecordingBus()
    events = SioMediaEvents(bus, places=lambda session_id: {"ann": "side:ann", "co": "side:ann"})
    await events.speaking("s1", {"ann": 0.7, "co": 0.1, "bob": 0.4}, "ann")
    assert bus.sent == [
        ("speaking", {"levels": {"ann": 0.7, "co": 0.1, "bob": 0.4}, "active": "ann"}, leads_room("s1")),
        ("speaking", {"levels": {"bob": 0.4}, "active": None}, members_room("s1")),
        ("speaking", {"levels": {"ann": 0.7, "co": 0.1}, "active": "ann"}, members_room("s1", "side:ann")),
    ]


async def test_before_the_hub_is_wired_everyone_is_in_the_main_room() -> None:
    bus = RecordingBus()
    await SioMediaEvents(bus).speaking("s1", {"ann": 0.5}, None)
    assert [room for _, _, room in bus.sent] == [leads_room("s1"), members_room("s1")]
