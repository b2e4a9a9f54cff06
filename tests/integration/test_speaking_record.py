"""Speaking time costs the store and the room nothing per tick: it is recorded every few seconds,
sent to facilitators as ``participation``, and never resends everyone's whole view by itself."""

from __future__ import annotations

from typing import Any

import pytest

from server.keys import HUB
from tests.harness import running_server
from tests.integration.wire_peer import Peer

pytestmark = [pytest.mark.media, pytest.mark.slow]


async def test_a_speaker_s_time_is_recorded_every_few_seconds_without_state_broadcasts() -> None:
    async with running_server(media=True, allow_loopback=True) as server:
        session = await server.create_session(requires_agreement=False, admission="open")
        facilitator = await server.connect(session["facilitator_token"])
        speaker = await server.join(session["id"], "Ana")
        peer = Peer(speaker)  # publishes a loud tone: the server measures speaking from its audio levels
        try:
            await peer.publish()
            first = await facilitator.wait_for("participation", lambda p: p["spoke"].get(speaker.id, 0) > 0, 15)
            live = server.app[HUB].live[session["id"]]
            states, version = facilitator.count("session.state"), live.session.version
            seen = facilitator.count("participation")
            later: dict[str, Any] = await facilitator.wait_for(
                "participation", lambda p: p["spoke"][speaker.id] > first["spoke"][speaker.id], 15, since=seen
            )
            assert later["spoke"][speaker.id] > first["spoke"][speaker.id]
            assert facilitator.count("session.state") == states  # no full view for speaking alone
            assert live.session.version == version + 1  # one record (one save) between the two
            assert speaker.count("participation") == 0  # facilitators' figures only
        finally:
            await peer.close()
