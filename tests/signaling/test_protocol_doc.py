"""docs/protocol.md is generated from the typed messages and covers every event of the seed protocol."""

from __future__ import annotations

from pathlib import Path

from signaling import protocol as wire
from signaling.docs import render
from tests.harness import Harness

ROOT = Path(__file__).resolve().parents[2]

# The event names outside clients rely on (../shared/design/PROTOCOL.md).
SEED_CLIENT_EVENTS = {
    "agree",
    "admit",
    "deny",
    "remove",
    "lock",
    "unlock",
    "agenda.set",
    "phase.next",
    "phase.set",
    "hand.raise",
    "hand.lower",
    "floor.grant",
    "floor.next",
    "floor.release",
    "goaround.start",
    "turn.pass",
    "goaround.stop",
    "mute",
    "unmute.allow",
    "media.state",
    "nod",
    "note",
    "help",
    "end",
    "rtc.publish",
    "rtc.answer",
}
SEED_SERVER_EVENTS = {
    "welcome",
    "session.state",
    "lobby",
    "speaking",
    "nod",
    "note",
    "help",
    "rtc.offer",
    "removed",
    "session.ended",
}


def test_protocol_doc_is_generated_from_the_typed_messages() -> None:
    committed = (ROOT / "docs" / "protocol.md").read_text()
    assert committed == render(), "run: python -m signaling.docs > docs/protocol.md"


def test_every_seed_event_is_typed_and_documented() -> None:
    doc = render()
    assert set(wire.CLIENT_EVENTS) >= SEED_CLIENT_EVENTS
    assert set(wire.SERVER_EVENTS) >= SEED_SERVER_EVENTS
    for name in SEED_CLIENT_EVENTS | SEED_SERVER_EVENTS:
        assert f"| `{name}` |" in doc


async def test_what_clients_receive_matches_the_typed_messages(server: Harness) -> None:
    session = await server.create_session(requires_agreement=False)
    facilitator = await server.connect(session["facilitator_token"])
    member = await server.join(session["id"], "Ana")
    wire.WelcomeOut.model_validate(member.last("welcome"))
    lobby = await facilitator.wait_for("lobby", lambda data: data["waiting"])
    wire.LobbyOut.model_validate(lobby)
    assert (await facilitator.ask("admit", {"id": member.id}))["ok"]
    state = await member.state(lambda s: len(s["participants"]) == 2)
    wire.SessionStateOut.model_validate(state)
    assert (await member.ask("help"))["ok"]
    wire.HelpOut.model_validate(await facilitator.wait_for("help"))
    assert (await facilitator.ask("remove", {"id": member.id}))["ok"]
    wire.RemovedOut.model_validate(await member.wait_for("removed"))
    assert (await facilitator.ask("end"))["ok"]
    wire.EndedOut.model_validate(await facilitator.wait_for("session.ended"))
