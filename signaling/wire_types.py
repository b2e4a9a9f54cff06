"""Generate ``web/wire.d.ts``, the browser client's types of every wire event, from the typed messages.

``python -m signaling.wire_types > web/wire.d.ts``. The client is plain JavaScript checked by
TypeScript from its JSDoc (``tests/web/test_typecheck.py``); its event names and payloads were copied
by hand from this package, so a renamed event or field went unnoticed until a browser test failed.
Generated from the same pydantic models as ``docs/protocol.md`` (one source), they are checked in the
client: ``HearthClient.send`` takes only a ``ClientEvents`` name with its payload, and what the server
sends is typed by ``ServerEvents``. ``tests/signaling/test_wire_types.py`` fails when the committed
file and the code disagree.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from pydantic import BaseModel

from signaling import protocol as wire

HEADER = """\
// The wire's events and payloads, generated from signaling/protocol.py by
// `python -m signaling.wire_types > web/wire.d.ts`; do not edit by hand
// (tests/signaling/test_wire_types.py fails when this file and the code disagree).
// Types only: the page imports nothing from here at run time (JSDoc `import('./wire').X`).
"""


TAIL = """\
/** An acknowledgement: `ok`, the `error` when not, and the event's result (`rtc.publish`'s answer). */
export type Ack = {ack} & Record<string, unknown>;
export type ClientEvent = keyof ClientEvents;
export type ServerEvent = keyof ServerEvents;
/** Sends one client event with its payload; resolves with the acknowledgement. */
export type Send = <K extends ClientEvent>(event: K, payload?: ClientEvents[K]) => Promise<Ack>;
/** Socket.IO's event maps, for socket.io-client's `Socket<ServerListeners, ClientEmitters>`. */
export type ServerListeners = { [K in ServerEvent]: (payload: ServerEvents[K]) => void };
export type ClientEmitters = {
  [K in ClientEvent]: (payload: ClientEvents[K], ack: (ack: Ack) => void) => void;
};"""


class Writer:
    """Named interfaces for the models (``PhaseOut``...), each written once, in the order first met."""

    def __init__(self) -> None:
        self.interfaces: dict[str, str] = {}

    def model(self, model: type[BaseModel]) -> str:
        schema = model.model_json_schema(by_alias=True)
        defs = schema.get("$defs", {})
        for name, sub in defs.items():
            self._interface(name, sub, defs)
        return self._interface(model.__name__, schema, defs)

    def _interface(self, name: str, schema: dict[str, Any], defs: dict[str, Any]) -> str:
        if name not in self.interfaces:
            self.interfaces[name] = ""  # a placeholder, so a model that refers to itself ends
            body = self._object(schema, defs, indent=0)
            declared = f"interface {name} {body}" if body.startswith("{") else f"type {name} = {body};"
            self.interfaces[name] = f"export {declared}\n"
        return name

    def _object(self, schema: dict[str, Any], defs: dict[str, Any], indent: int) -> str:
        properties = schema.get("properties", {})
        if not properties:
            return "{}" if not schema.get("additionalProperties") else "Record<string, unknown>"
        required = set(schema.get("required", []))
        pad = "  " * (indent + 1)
        lines = ["{"]
        for field, sub in properties.items():
            key = field if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", field) else json.dumps(field)
            lines.append(f"{pad}{key}{'' if field in required else '?'}: {self._type(sub, defs, indent + 1)};")
        lines.append("  " * indent + "}")
        return "\n".join(lines)

    def _type(self, schema: dict[str, Any], defs: dict[str, Any], indent: int) -> str:
        if "$ref" in schema:
            name = schema["$ref"].split("/")[-1]
            return self._interface(name, defs[name], defs)
        if "anyOf" in schema:
            return " | ".join(self._type(s, defs, indent) for s in schema["anyOf"])
        if "enum" in schema:
            return " | ".join(json.dumps(v) for v in schema["enum"])
        if "const" in schema:
            return json.dumps(schema["const"])
        kind = schema.get("type")
        if kind == "array":
            item = self._type(schema.get("items", {}), defs, indent)
            return f"({item})[]" if "|" in item else f"{item}[]"
        if kind == "object" and "properties" in schema:
            return self._object(schema, defs, indent)
        if kind == "object":
            values = schema.get("additionalProperties")
            inner = self._type(values, defs, indent) if isinstance(values, dict) else "unknown"
            return f"Record<string, {inner}>"
        return {"string": "string", "integer": "number", "number": "number", "boolean": "boolean", "null": "null"}.get(
            str(kind), "unknown"
        )


def render() -> str:
    writer = Writer()
    client = {name: writer.model(model) for name, model in wire.CLIENT_EVENTS.items()}
    server = {name: writer.model(model) for name, (model, _) in wire.SERVER_EVENTS.items()}
    ack = writer.model(wire.AckOut)
    out = [HEADER]
    out += [writer.interfaces[name] for name in writer.interfaces]
    out.append("/** What each client event carries (every one is acknowledged with an `Ack`). */")
    out.append("export interface ClientEvents {")
    out += [f"  {json.dumps(name)}: {model};" for name, model in client.items()]
    out.append("}\n")
    out.append("/** What the server sends, by event name. */")
    out.append("export interface ServerEvents {")
    out += [f"  {json.dumps(name)}: {model};" for name, model in server.items()]
    out.append("}\n")
    out.append(TAIL.replace("{ack}", ack))
    out.append(f"export type ErrorCode = {' | '.join(json.dumps(code) for code in wire.ERROR_CODES)};")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
