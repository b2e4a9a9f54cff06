"""One participant's fault, injected into a real server: the rest of the session keeps working.

Each test runs a whole node (the app ``hearth serve`` runs, on a free port) with real Socket.IO
clients; the faulty party is a process of its own when the fault is a frozen or killed process.
Every test checks the same things of everyone else: their acts answered within a second throughout,
newcomers still welcomed, the facilitator still able to end the session; and of the faulty party:
shown dropped, and seated again when it comes back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.keys import HUB, SETTINGS, SIO
from signaling.emits import Emit
from tests.faults.session_checks import Heartbeat, RemoteMember, ends_for_everyone, participant
from tests.hardening.helpers import make_room
from tests.harness import Client, Harness, running_server

pytestmark = pytest.mark.slow


async def connected_as(watcher: Client, pid: str, connected: bool, timeout: float, since: int = 0) -> None:
    """Wait until ``watcher``'s view shows ``pid`` (dis)connected."""

    def shows(state: dict[str, object]) -> bool:
        entry = participant(state, pid)  # type: ignore[arg-type]
        return entry is not None and entry["connected"] is connected

    await watcher.state(shows, timeout=timeout, since=since)


async def test_a_silent_member_is_shown_dropped_and_the_session_never_freezes() -> None:
    """The network of one member dies without closing (SIGSTOP), with the default ping settings.

    python-engineio notices the ping timeout inside an emit of the session, and runs the disconnect
    handler right there: before the session had an actor, that handler waited for the lock its own
    caller held and every event of the session timed out from then on.
    """
    async with running_server(media=False) as server:
        room = await make_room(server, members=2, admission="open")
        session_id = room.id
        silent_invite = await server.invite(session_id, "Sam")
        silent = await RemoteMember.start(server.url, silent_invite["token"])
        try:
            await connected_as(room.facilitator, silent_invite["id"], True, timeout=5)
            beat = Heartbeat(room.members[0]).start()
            silent.freeze()
            settings = server.app[SETTINGS]
            ping = settings.ping_interval + settings.ping_timeout
            await connected_as(room.facilitator, silent_invite["id"], False, timeout=ping + 10)
            newcomer = await server.join(session_id, "Nia")  # still welcomed while it happens
            assert newcomer.last("welcome")["you"]["status"] == "admitted"
            silent.thaw()  # back from the tunnel: it reconnects by itself and gets its seat back
            since = room.facilitator.count("session.state")
            await connected_as(room.facilitator, silent_invite["id"], True, timeout=10, since=since)
            await beat.stop()
            beat.assert_prompt()
            await ends_for_everyone(room.facilitator, [*room.members, newcomer])
        finally:
            await silent.close()


async def test_a_killed_facilitator_holds_the_session_and_nobody_is_admitted_meanwhile() -> None:
    async with running_server(media=False) as server:
        session = await server.create_session(requires_agreement=False, admission="open")
        lead = await RemoteMember.start(server.url, session["facilitator_token"])
        members = [await server.join(session["id"], name) for name in ("Ana", "Ben")]
        beat = Heartbeat(members[0]).start()
        since = members[1].count("session.state")
        lead.kill()
        await members[1].state(lambda s: s["on_hold"], timeout=5, since=since)
        newcomer = await server.join(session["id"], "Cleo")  # open admission, but nobody leads the room
        assert newcomer.last("welcome")["you"]["status"] == "waiting"
        await asyncio.sleep(0.5)  # a window in which a wrongful admission would show
        assert not any(s["participants"] for s in newcomer.received["session.state"])
        back = await server.connect(session["facilitator_token"])  # the facilitator returns
        await members[1].state(lambda s: not s["on_hold"] and participant(s, newcomer.id) is not None)
        await beat.stop()
        beat.assert_prompt()
        await ends_for_everyone(back, [*members, newcomer])
        await lead.close()


async def test_a_second_tab_takes_the_seat_and_the_first_is_told_why(server: Harness) -> None:
    room = await make_room(server, members=2)
    first = room.members[0]
    token = room.tokens[first.id]
    beat = Heartbeat(room.members[1]).start()
    second = await server.connect(token)
    await first.wait_for("replaced")
    assert first.last("replaced")["message"] == "You joined from another tab or device."
    await asyncio.sleep(0.3)  # nothing more arrives: the first connection is closed, not looping
    assert not first.sio.connected
    assert second.last("welcome")["you"]["status"] == "admitted"  # the same seat, no lobby
    await connected_as(room.facilitator, first.id, True, timeout=5, since=room.facilitator.count("session.state") - 1)
    state = room.facilitator.last("session.state")
    assert [p["id"] for p in state["participants"]].count(first.id) == 1
    taken_back = await server.connect(token)  # "use this tab instead": the seat moves back, once
    await second.wait_for("replaced")
    assert taken_back.last("welcome")["you"]["id"] == first.id
    await beat.stop()
    beat.assert_prompt()
    await ends_for_everyone(room.facilitator, [taken_back, room.members[1]])


async def test_a_second_tab_gone_while_the_first_is_told_leaves_the_seat_empty_and_recorded(server: Harness) -> None:
    """The new connection closes during the ``replaced`` message to the old one: its disconnect
    handler finds nothing seated yet. The seat must not keep the dead socket, and the session must
    show the member dropped (both connections are gone), then seat them again when they return."""
    room = await make_room(server, members=2)
    first = room.members[0]
    token = room.tokens[first.id]
    hub, sio = server.app[HUB], server.app[SIO]
    beat = Heartbeat(room.members[1]).start()
    seating: list[str] = []
    attach, send = hub.attach, hub.send

    async def recording_attach(socket_id: str, *args: Any, **options: Any) -> None:
        seating.append(socket_id)
        await attach(socket_id, *args, **options)

    async def closing_send(emits: list[Emit]) -> None:
        if any(e.event == "replaced" for e in emits):
            await sio.disconnect(seating[-1])  # the second tab goes at this very moment
        await send(emits)

    hub.attach, hub.send = recording_attach, closing_send  # type: ignore[method-assign]
    try:
        since = room.facilitator.count("session.state")
        await server.connect(token, wait_welcome=False)
        await first.wait_for("replaced")
        await connected_as(room.facilitator, first.id, False, timeout=5, since=since)
    finally:
        hub.attach, hub.send = attach, send  # type: ignore[method-assign]
    assert seating[-1] not in hub.sockets
    back = await server.connect(token)
    assert back.last("welcome")["you"]["status"] == "admitted"
    await connected_as(room.facilitator, first.id, True, timeout=5, since=room.facilitator.count("session.state") - 1)
    await beat.stop()
    beat.assert_prompt()
    await ends_for_everyone(room.facilitator, [back, room.members[1]])
