"""Generate ``docs/protocol.md`` from the typed messages: ``python -m signaling.docs > docs/protocol.md``.

The prose of the wire contract comes from one place, the code, so the two never drift; a test fails
when the committed file differs from what this prints.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel

from signaling import protocol as wire

HEADER = """# Hearth wire protocol

Generated from `signaling/protocol.py` by `python -m signaling.docs`; do not edit by hand
(`tests/signaling/test_protocol_doc.py` fails when this file and the code disagree).

## Transport
- Socket.IO v5 on the default namespace `/`, path `/socket.io/`. Connect with `auth: {token}` (a join
  token). A refused connection's `connect_error` carries `data: {code, message[, url]}`: `unauthorized`
  (bad, expired or revoked token), `moved` (another node holds the session: connect to `url`),
  `forbidden` (removed), `conflict` (ended or full), `not_found` (no such session).
- Every client event takes an acknowledgement: `{ok: true, ...result}` or
  `{ok: false, error: {code, message}}`, `code` one of: {codes}.
- Unknown events and payloads that do not match the schema are `invalid`; a payload over {payload} bytes
  (as JSON) is `invalid` without field-by-field validation; the transport refuses messages over
  {transport} bytes. Each connection may send {rate} events a second (bursts of {burst}); beyond that
  `rate_limited`. The connection stays up after any error. A frame the Socket.IO parser itself cannot
  decode (not JSON, or numbers beyond the parser's limits) is dropped without an ack.
- Event names `connect`, `disconnect` and `connect_error` are reserved: sent by a client they are
  answered `invalid`.

## Client -> server (all acknowledged)
"""


def _type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return _object(defs[name], defs)
    if "anyOf" in schema:
        return " | ".join(_type(s, defs) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(f'"{v}"' for v in schema["enum"])
    if "const" in schema:
        return f'"{schema["const"]}"'
    kind = schema.get("type", "any")
    if kind == "array":
        return f"[{_type(schema.get('items', {}), defs)}]"
    if kind == "object" and "properties" in schema:
        return _object(schema, defs)
    if kind == "object":
        return "{...}"
    limits = [
        f"{k}={schema[k]}" for k in ("minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum") if k in schema
    ]
    return str(kind) + (f" ({', '.join(limits)})" if limits else "")


def _object(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    fields = [
        f"{name}{'' if name in required else '?'}: {_type(sub, defs)}"
        for name, sub in schema.get("properties", {}).items()
    ]
    return "{" + ", ".join(fields) + "}"


def payload(model: type[BaseModel], by_alias: bool = True) -> str:
    schema = model.model_json_schema(by_alias=by_alias)
    return _object(schema, schema.get("$defs", {}))


def render(rate: float = 20.0, burst: float = 40.0) -> str:
    out = [
        HEADER.replace("{codes}", ", ".join(f"`{c}`" for c in wire.ERROR_CODES))
        .replace("{payload}", str(wire.MAX_PAYLOAD_BYTES))
        .replace("{transport}", str(wire.MAX_TRANSPORT_BYTES))
        .replace("{rate}", f"{rate:g}")
        .replace("{burst}", f"{burst:g}")
    ]
    out.append("| event | who | payload |\n|---|---|---|")
    for name, (model, who, _) in wire.DOMAIN_EVENTS.items():
        out.append(f"| `{name}` | {who} | `{payload(model)}` |")
    for name, (model, who) in wire.MEDIA_EVENTS.items():
        out.append(f"| `{name}` | {who} | `{payload(model)}` |")
    out.append('\n`rtc.publish` is acknowledged with `{ok: true, sdp, type: "answer"}`.\n')
    out.append("## Server -> client\n")
    out.append("| event | to | payload |\n|---|---|---|")
    for name, (out_model, to) in wire.SERVER_EVENTS.items():
        out.append(f"| `{name}` | {to} | `{payload(out_model)}` |")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
