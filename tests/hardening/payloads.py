"""Hypothesis strategies for wire payloads: well-formed per event, near misses, and plain garbage.

Ids are placeholders (``$F``, ``$M0``...) resolved against the live room at send time, so that a
well-formed payload can name real participants of a room that only exists while the test runs.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from signaling import protocol as wire

# Strings python-socketio can carry that break naive code: NULs, bidi controls, zero-width joiners,
# combining marks, BOMs, noncharacters, astral planes, path and format tricks. (Lone surrogates are
# not valid UTF-8, so no client can send them.)
EDGE_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x00" * 64,
    "\u200f",
    "\u202eevil\u202c",
    "\u200b\u200c\u200d",
    "🙂",
    "👩\u200d👩\u200d👧\u200d👦",
    "e\u0301\u0301\u0301\u0301",
    "Z\u0364\u0354\u0367\u0311\u0313" * 20,
    "\ufeff",
    "\uffff",
    "\U0010ffff",
    "\U0001d573\U0001d58a\U0001d586",
    "\n\r\t",
    "\x1b[31m",
    "../../etc/passwd",
    "%s%n%x",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "${jndi:ldap://x}",
    "__proto__",
    "constructor",
    "NaN",
    "ﷺ",
    "א\u05b7",
    "\u0600\u0601",
    "\u2028\u2029",
    "null",
    "true",
    "0",
    "-1",
    "1e309",
)

PLACEHOLDERS = ("$F", "$C", "$M0", "$M1", "$M2", "$M3", "$W0", "$W1")
BAD_IDS = ("nobody", "", "x" * 65, "a b", "$F ", "../", "🙂", "\x00", "f-", "s-")

text = st.one_of(
    st.sampled_from(EDGE_STRINGS),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40),
)
ids = st.one_of(st.sampled_from(PLACEHOLDERS), st.sampled_from(BAD_IDS), text)
# engineio refuses to decode integers of more than 100 digits (no ack at all): see test_limits.
big_ints = st.sampled_from((2**63, -(2**63) - 1, 2**64, 10**99, -(10**98)))
floats = st.floats(allow_nan=True, allow_infinity=True)
leaf = st.one_of(st.none(), st.booleans(), st.integers(-(10**98), 10**99), big_ints, floats, text)
json_values = st.recursive(
    leaf, lambda kids: st.lists(kids, max_size=5) | st.dictionaries(text, kids, max_size=5), max_leaves=25
)


def nest(depth: int, as_dict: bool) -> Any:
    value: Any = "core"
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


deep = st.builds(nest, st.integers(20, 400), st.booleans())
huge = st.sampled_from(
    (
        {"text": "y" * 70_000, "to": "$F"},
        {"sdp": "v=0\r\n" * 14_000, "type": "offer"},
        {"phases": [{"name": "n", "minutes": 1, "floor_mode": "open"}] * 2000},
        ["z"] * 20_000,
        "w" * 100_000,
    )
)

seconds = st.one_of(st.none(), st.floats(0.05, 3600), floats)
phase = st.fixed_dictionaries(
    {
        "name": st.one_of(st.text(min_size=1, max_size=80), st.sampled_from(EDGE_STRINGS)),
        "minutes": st.one_of(st.floats(0.01, 240), floats),
        "floor_mode": st.sampled_from(("open", "hands", "strict", "chaos")),
    }
)
sdp_text = st.one_of(st.sampled_from(EDGE_STRINGS), st.text(max_size=200), st.just("v=0\r\n"))


def _opt(**optional: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    return optional


BY_MODEL: dict[type[wire.Message], st.SearchStrategy[dict[str, Any]]] = {
    wire.Empty: st.just({}),
    wire.Target: st.fixed_dictionaries({"id": ids}),
    wire.RemovePayload: st.fixed_dictionaries({"id": ids}, optional=_opt(reason=text)),
    wire.AgendaSetPayload: st.fixed_dictionaries({"phases": st.lists(phase, min_size=0, max_size=4)}),
    wire.PhaseSetPayload: st.fixed_dictionaries(
        {"index": st.one_of(st.integers(-2, 8), st.integers(-(10**98), 10**99))}
    ),
    wire.FloorGrantPayload: st.fixed_dictionaries({"id": ids}, optional=_opt(turn_seconds=seconds)),
    wire.FloorNextPayload: st.fixed_dictionaries({}, optional=_opt(turn_seconds=seconds)),
    wire.GoAroundStartPayload: st.fixed_dictionaries(
        {},
        optional=_opt(
            order=st.one_of(st.none(), st.lists(st.sampled_from(PLACEHOLDERS), max_size=5)), turn_seconds=seconds
        ),
    ),
    wire.MediaStatePayload: st.fixed_dictionaries({"audio": st.booleans(), "video": st.booleans()}),
    wire.MediaReceivePayload: st.fixed_dictionaries({"video": st.booleans()}),
    wire.MediaViewPayload: st.fixed_dictionaries(
        {"sizes": st.dictionaries(ids, st.sampled_from(("large", "small", "hidden", "huge")), max_size=3)}
    ),
    wire.NotePayload: st.fixed_dictionaries({"to": ids, "text": text}),
    wire.SafetySharePayload: st.fixed_dictionaries({"location": text, "contact": text}, optional={"callback": text}),
    wire.SafetyAskPayload: st.fixed_dictionaries({}, optional=_opt(id=st.one_of(st.none(), ids))),
    wire.SideStartPayload: st.fixed_dictionaries({"id": ids}, optional={"with": st.one_of(st.none(), ids)}),
    wire.SideEndPayload: st.fixed_dictionaries({}, optional=_opt(id=st.one_of(st.none(), ids))),
    wire.BreakoutStartPayload: st.fixed_dictionaries(
        {"minutes": st.one_of(st.floats(0.01, 60), st.sampled_from((1, 5)), floats)},
        optional=_opt(
            groups=st.one_of(st.none(), st.lists(st.lists(st.sampled_from(PLACEHOLDERS), max_size=3), max_size=3)),
            size=st.sampled_from((None, 2, 3, 4, 1)),
        ),
    ),
    wire.BreakoutVisitPayload: st.fixed_dictionaries(
        {"group": st.integers(-1, 12)}, optional=_opt(mode=st.sampled_from(("listen", "speak", "shout")))
    ),
    wire.BreakoutMovePayload: st.fixed_dictionaries({"id": ids, "group": st.one_of(st.none(), st.integers(-1, 12))}),
    wire.BroadcastPayload: st.fixed_dictionaries({"text": text}),
    wire.PublishPayload: st.fixed_dictionaries({"sdp": sdp_text, "type": st.sampled_from(("offer", "answer"))}),
    wire.AnswerPayload: st.fixed_dictionaries(
        {"sdp": sdp_text, "type": st.sampled_from(("answer", "offer")), "revision": st.integers(-1, 5)}
    ),
    wire.E2eeKeyPayload: st.fixed_dictionaries(
        {
            "jwk": st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {
                        "kty": st.sampled_from(("EC", "RSA")),
                        "crv": st.sampled_from(("P-256", "P-384")),
                        "x": text,
                        "y": text,
                    }
                ),
            )
        }
    ),
    wire.E2eeGrantPayload: st.fixed_dictionaries(
        {
            "key_id": st.one_of(st.integers(-1, 8), st.integers(2**32 - 2, 2**33)),
            "grants": st.lists(
                st.fixed_dictionaries({"to": ids, "wrapped": st.one_of(st.none(), text, st.just("A" * 59))}), max_size=3
            ),
        }
    ),
}

assert set(BY_MODEL) == set(wire.CLIENT_EVENTS.values())


def shaped(event: str) -> st.SearchStrategy[dict[str, Any]]:
    """Payloads in the event's own shape, with values from the edges of each field's domain."""
    return BY_MODEL[wire.CLIENT_EVENTS[event]]


@st.composite
def mangled(draw: st.DrawFn, event: str) -> Any:
    """A well-shaped payload with one thing wrong: a key dropped, added, or given a wrong value."""
    payload = dict(draw(shaped(event)))
    how = draw(st.sampled_from(("drop", "add", "retype")))
    if how == "drop" and payload:
        payload.pop(draw(st.sampled_from(sorted(payload))))
    elif how == "retype" and payload:
        payload[draw(st.sampled_from(sorted(payload)))] = draw(json_values)
    else:
        payload[draw(text)] = draw(json_values)
    return payload


def any_payload(event: str) -> st.SearchStrategy[Any]:
    """Mostly near misses, some garbage; deep and huge values have their own, smaller test."""
    return st.one_of(shaped(event), mangled(event), mangled(event), json_values)


EVENTS = sorted(wire.CLIENT_EVENTS)
# Reserved Socket.IO names ("connect", "disconnect") are tested on their own: see
# test_client_cannot_fake_socketio_lifecycle_events.
unknown_events = st.one_of(
    st.sampled_from(
        (
            "hack",
            "admin.grant",
            "welcome",
            "session.state",
            "lobby",
            "note ",
            "ADMIT",
            "x" * 300,
            "connect_error",
            "message",
            "*",
        )
    ),
    st.text(min_size=1, max_size=30).filter(
        lambda e: e not in wire.CLIENT_EVENTS and e not in ("connect", "disconnect")
    ),
)


def resolve(value: Any, ids_by_label: dict[str, str]) -> Any:
    """Replace id placeholders, anywhere in a payload, with the room's real ids."""
    if isinstance(value, str):
        return ids_by_label.get(value, value)
    if isinstance(value, list):
        return [resolve(v, ids_by_label) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, ids_by_label) for k, v in value.items()}
    return value
