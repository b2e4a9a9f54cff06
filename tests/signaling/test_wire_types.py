"""web/wire.d.ts, the browser client's types of every wire event, is what the typed messages say (#17).

It is generated (``python -m signaling.wire_types > web/wire.d.ts``) from the same pydantic models as
``docs/protocol.md``; ``tests/web/test_typecheck.py`` checks the client against it.
"""

from __future__ import annotations

import re
from pathlib import Path

from signaling import protocol as wire
from signaling.wire_types import render

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_wire_types_match_the_code() -> None:
    committed = (ROOT / "web" / "wire.d.ts").read_text()
    assert committed == render(), "web/wire.d.ts is stale: run `python -m signaling.wire_types > web/wire.d.ts`"


def test_every_event_each_way_has_its_payload_type() -> None:
    text = render()
    client = text.split("export interface ClientEvents {")[1].split("}")[0]
    server = text.split("export interface ServerEvents {")[1].split("}")[0]
    assert set(re.findall(r'"([^"]+)":', client)) == set(wire.CLIENT_EVENTS)
    assert set(re.findall(r'"([^"]+)":', server)) == set(wire.SERVER_EVENTS)


def test_an_alias_is_the_wire_name_and_an_optional_field_is_marked() -> None:
    text = render()
    note = text.split("export interface NoteOut {")[1].split("}")[0]
    assert "from: string;" in note and "from_" not in note  # the wire says "from"
    removal = text.split("export interface RemovePayload {")[1].split("}")[0]
    assert "id: string;" in removal and "reason?: string;" in removal  # a default makes it optional
