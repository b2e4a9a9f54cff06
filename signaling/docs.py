"""Generate ``docs/protocol.md`` from the typed messages: ``python -m signaling.docs > docs/protocol.md``.

The prose of the wire contract comes from one place, the code, so the two never drift; a test fails
when the committed file differs from what this prints.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel

from rooms.model import BREAKOUT_WARNING_SECONDS, SIDE_ROOM_DROP_HOLD_SECONDS
from signaling import protocol as wire

HEADER = """# Hearth wire protocol

Generated from `signaling/protocol.py` by `python -m signaling.docs`; do not edit by hand
(`tests/signaling/test_protocol_doc.py` fails when this file and the code disagree).

## Transport
- Socket.IO v5 on the default namespace `/`, path `/socket.io/`. Connect with `auth: {token}` (a join
  token), and `e2ee: true` in it from a client that takes part in end-to-end encryption (see below). A
  refused connection's `connect_error` carries `data: {code, message[, url]}`: `unauthorized`
  (bad or expired token), `moved` (another node holds the session: connect to `url`),
  `forbidden` (removed: the link is revoked), `conflict` (ended or full), `not_found` (no such session),
  `invalid` (`e2ee` not a boolean).
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
        return " | ".join(json.dumps(v) for v in schema["enum"])
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
    for name, (model, who) in (*wire.MEDIA_EVENTS.items(), *wire.E2EE_EVENTS.items()):
        out.append(f"| `{name}` | {who} | `{payload(model)}` |")
    out.append('\n`rtc.publish` is acknowledged with `{ok: true, sdp, type: "answer"}`.\n')
    out.append("## Server -> client\n")
    out.append("| event | to | payload |\n|---|---|---|")
    for name, (out_model, to) in wire.SERVER_EVENTS.items():
        out.append(f"| `{name}` | {to} | `{payload(out_model)}` |")
    out.append(E2EE)
    places = PLACES.replace("{hold}", f"{SIDE_ROOM_DROP_HOLD_SECONDS:g}")
    out.append(places.replace("{warning}", f"{BREAKOUT_WARNING_SECONDS:g}"))
    return "\n".join(out)


E2EE = """
## End-to-end encrypted media

A session's `e2ee` (`required`, `preferred` (the default) or `off`, set at creation) says whether the
browsers encrypt each media frame before it leaves them (AES-GCM, an SFrame-like header; the server
forwards what it cannot decode). Every client sends `e2ee.key` on each `welcome`: its ECDH P-256
public key, or `null` when it cannot encrypt. The server keeps public keys in memory only and sends
facilitators `e2ee.keys`: every key it has, and the `holder`, the facilitator who distributes the
media key (the one holding it while connected; else the facilitator, else a co-facilitator). The
holder makes a new media key (a new `key_id`) whenever who is admitted changes and sends it in one
`e2ee.grant`, wrapped for each admitted participant; each recipient gets `e2ee.grant` with the
sender's public key. A grant to anyone not admitted in the sender's session is refused (`not_found`,
`conflict`) and nothing of it is sent; a sender that has not sent its public key is `conflict`.
`key_id` 0 with `wrapped: null` says "in the clear" (`preferred`, with a browser that cannot encrypt).

A client says it takes part with `e2ee: true` in its connection's `auth`; one that does not (an outside
client that knows nothing of e2ee) counts from its welcome as one that cannot encrypt, as if it had sent
`e2ee.key` with `null`, until it sends a public key. `e2ee.keys` lists those who cannot encrypt while
they are connected. In a `preferred` session, one connected admitted participant who cannot encrypt
puts media in the clear (the holder grants `key_id` 0); when every facilitator present cannot encrypt,
so nobody can hold the key, the server sends `e2ee.clear` to each admitted participant with a public
key (again after each of its welcomes), and the pages send and receive in the clear. A facilitator
who can encrypt arriving later becomes the holder: once everyone connected can encrypt, its keyed
grant takes the pages from clear to encrypted. With no facilitator present, members wait for a key.
In a `required` session media never goes in the clear: `rtc.publish` from a client that cannot
encrypt is refused (`forbidden`), and what it receives is ciphertext only.
"""

PLACES = """
## Places: side rooms and breakout groups

Every admitted participant is in exactly one place: the main room (`"main"`), a side room
(`"side:<member id>"`: one member and the facilitator who took them aside) or a breakout group
(`"group:<index>"`). Media follows place: a participant receives the video of everyone in their place
and the audio of those of them who are audible (forced mute holds everywhere; the strict floor is
the main room's; a facilitator visiting a group with `mode: "listen"` is seen there but not heard),
and nothing of anyone in another place. A move takes effect on the next packet, with no new
`rtc.offer`: the receiving connection keeps a track for every participant who publishes. `speaking`
levels reach those in the speaker's place, and facilitators.

- Members' `session.state` is their place's view: `place: {kind: "main" | "side" | "group", group}`,
  and each participant's `presence`: `here`; from the main room `stepped_out` (in a side room: no
  more is said) or `in_group`; from a side room or a group `elsewhere`. `audible` says whether the
  viewer hears that person. `breakout: {count, ends_at, remaining, warned}` while a breakout runs.
- The facilitators' view adds each participant's `place`, `side_rooms: [{member, lead, since,
  back_to}]` and `breakout.groups: [{index, members, visitors}]`, `minutes`, `started_at`.
- The floor, the queue and the go-around are the main room's: someone away cannot be given the floor
  (`conflict`), cannot raise a hand or nod (`conflict`), keeps their place in the queue, and their
  go-around turn waits until they are back. A floor holder who leaves the main room loses the floor
  and goes to the head of the queue.
- A drop and a return within the grace period puts a participant back where they were; after it, they
  come back to the main room. A side room ends when its member or facilitator leaves, and by itself
  when its facilitator's connection has been gone for {hold} s. `breakout.start` without `groups` shuffles the
  main room's members into groups of `size` (default 2; an odd member makes a three; nobody is
  alone). {warning} s before the end the groups get `breakout.warning`; at the end everyone returns
  to the main room. While the session is on hold the breakout's clock stops. A phase with
  `floor_mode: "pairs"` starts a breakout of pairs for its minutes when a facilitator enters it; any
  phase change ends a running breakout; so does the end of the session.
"""


if __name__ == "__main__":
    sys.stdout.write(render())
