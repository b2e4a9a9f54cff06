"""The typed messages between the node and a media worker, and their framing on a stream socket.

Each message is a frozen dataclass; on the socket it is a 4-byte big-endian length and a JSON object
``{"t": <type name>, ...fields}``. ``decode`` refuses a type it does not know or fields that do not
match, so a mismatch between the two ends fails loudly instead of being half-understood. Both ends
run the same code (the worker is started from the node's own interpreter), so there is no versioning.

Names never cross this socket: gateway calls carry ids, SDP and policies (ids) only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import struct
import typing
from dataclasses import dataclass, field
from typing import Any

from signaling.ports import ForwardingPolicy

MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # far above any SDP (``signaling.protocol.MAX_SDP_CHARS``) or stats
_LENGTH = struct.Struct(">I")


# --- node -> worker: one request per gateway call, answered by Done or Refused with the same ``id`` ---


@dataclass(frozen=True)
class Publish:
    id: int
    session: str
    participant: str
    sdp: str


@dataclass(frozen=True)
class Answer:
    id: int
    session: str
    participant: str
    sdp: str
    revision: int


@dataclass(frozen=True)
class Subscribe:
    id: int
    session: str
    participant: str


@dataclass(frozen=True)
class SetPolicy:
    id: int
    session: str
    members: list[str]
    audible: list[str]
    places: dict[str, str]
    audio_only: list[str]
    floor: str | None

    @classmethod
    def of(cls, id: int, session: str, policy: ForwardingPolicy) -> SetPolicy:
        members, audible, audio_only = sorted(policy.members), sorted(policy.audible), sorted(policy.audio_only)
        return cls(id, session, members, audible, dict(policy.places), audio_only, policy.floor)

    def policy(self) -> ForwardingPolicy:
        return ForwardingPolicy(
            frozenset(self.members),
            frozenset(self.audible),
            dict(self.places),
            frozenset(self.audio_only),
            self.floor,
        )


@dataclass(frozen=True)
class SetView:
    id: int
    session: str
    participant: str
    sizes: dict[str, str]


@dataclass(frozen=True)
class CloseParticipant:
    id: int
    session: str
    participant: str


@dataclass(frozen=True)
class CloseSession:
    id: int
    session: str


@dataclass(frozen=True)
class Done:
    id: int
    sdp: str = ""  # Publish's answer; empty for the others


@dataclass(frozen=True)
class Refused:
    """The engine raised ``MediaError(code, message)``: re-raised at the node."""

    id: int
    code: str
    message: str


# --- worker -> node, unasked -----------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """Sent once the engine is built: the worker takes calls from now on."""

    pid: int


@dataclass(frozen=True)
class Offer:
    session: str
    participant: str
    sdp: str
    revision: int


@dataclass(frozen=True)
class Speaking:
    session: str
    levels: dict[str, float]
    active: str | None


@dataclass(frozen=True)
class Lost:
    session: str
    participant: str
    leg: str


@dataclass(frozen=True)
class Paused:
    """``MediaEvents.video_paused``: whose video a participant's link is not sent for now."""

    session: str
    participant: str
    paused: list[str]
    audio_only: bool


@dataclass(frozen=True)
class Layers:
    """``MediaEvents.video_layers``: the simulcast layers a publisher is to send for now."""

    session: str
    participant: str
    rids: list[str]


@dataclass(frozen=True)
class Spoke:
    """Speaking seconds per participant since the last ``Spoke`` of this session (durations only)."""

    session: str
    seconds: dict[str, float]


@dataclass(frozen=True)
class Stats:
    """The engine's ``stats()``: forwarded totals since the worker started, fan-out time samples since
    the last ``Stats``, refused datagrams by reason."""

    packets: int
    bytes: int
    latency: list[float] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    connections: int = 0  # WebRTC connections the engine holds that are not closed, now


Request = Publish | Answer | Subscribe | SetPolicy | SetView | CloseParticipant | CloseSession
# What the worker answers: every Request, from the one union (a request left out here was ignored by
# the worker and left the node's call waiting out its deadline, the session's media queue behind it).
REQUESTS: tuple[type[Any], ...] = typing.get_args(Request)
Message = Request | Done | Refused | Ready | Offer | Speaking | Lost | Paused | Layers | Spoke | Stats

TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        Publish,
        Answer,
        Subscribe,
        SetPolicy,
        SetView,
        CloseParticipant,
        CloseSession,
        Done,
        Refused,
        Ready,
        Offer,
        Speaking,
        Lost,
        Paused,
        Layers,
        Spoke,
        Stats,
    )
}


class WireError(Exception):
    """A frame that is too long, not JSON, or not one of ``TYPES`` with exactly its fields."""


def encode(message: Message) -> bytes:
    body = json.dumps({"t": type(message).__name__, **dataclasses.asdict(message)}, separators=(",", ":")).encode()
    if len(body) > MAX_MESSAGE_BYTES:
        raise WireError(f"{type(message).__name__} of {len(body)} bytes is too long")
    return _LENGTH.pack(len(body)) + body


def decode(body: bytes) -> Message:
    try:
        data = json.loads(body)
        cls = TYPES[data.pop("t")]
        message: Message = cls(**data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WireError(f"undecodable message: {type(exc).__name__}") from exc
    return message


async def read(reader: asyncio.StreamReader) -> Message:
    """The next message; ``asyncio.IncompleteReadError`` at the end of the stream (the other end died)."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > MAX_MESSAGE_BYTES:
        raise WireError(f"frame of {length} bytes is too long")
    return decode(await reader.readexactly(length))
