"""The node <-> media worker messages (``server.media.workers.wire``): every type goes round unchanged,
and a frame that is not one of them is refused, never half-read."""

from __future__ import annotations

import asyncio
import json
import typing

import pytest

from server.media.workers import wire
from signaling.ports import ForwardingPolicy

POLICY = ForwardingPolicy(frozenset({"a", "b", "c"}), frozenset({"a"}), {"b": "side:1"}, frozenset({"c"}), "a")

SAMPLES: list[wire.Message] = [
    wire.Publish(1, "s", "a", "v=0"),
    wire.Answer(2, "s", "a", "v=0", 7),
    wire.Subscribe(3, "s", "a"),
    wire.SetPolicy.of(4, "s", POLICY),
    wire.SetView(7, "s", "a", {"b": "small", "c": "large"}),
    wire.CloseParticipant(5, "s", "a"),
    wire.CloseSession(6, "s"),
    wire.Done(1, "v=0"),
    wire.Refused(2, "conflict", "stale revision"),
    wire.Ready(1234),
    wire.Offer("s", "a", "v=0", 3),
    wire.Speaking("s", {"a": 0.5, "b": 0.0}, "a"),
    wire.Speaking("s", {}, None),
    wire.Lost("s", "a", "publish"),
    wire.Paused("s", "a", ["b"], False),
    wire.Layers("s", "a", ["lo"]),
    wire.Spoke("s", {"a": 1.25}),
    wire.Stats(10, 1000, [0.001], {"short": 2}, 4),
]


def test_every_message_type_has_a_sample() -> None:
    assert {type(m).__name__ for m in SAMPLES} == set(wire.TYPES)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
async def test_a_message_goes_round_unchanged(message: wire.Message) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(wire.encode(message))
    assert await wire.read(reader) == message


def test_a_policy_goes_round_unchanged() -> None:
    message = wire.SetPolicy.of(1, "s", POLICY)
    decoded = wire.decode(wire.encode(message)[4:])
    assert isinstance(decoded, wire.SetPolicy) and decoded.policy() == POLICY


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"t": "Nope"}', b'{"id": 1}', b'{"t": "Subscribe", "id": 1}', b'{"t": "Ready", "pid": 1, "x": 2}'],
)
def test_a_frame_that_is_not_a_known_message_is_refused(body: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode(body)


async def test_an_over_long_frame_is_refused_before_it_is_read() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data((wire.MAX_MESSAGE_BYTES + 1).to_bytes(4, "big"))
    with pytest.raises(wire.WireError):
        await wire.read(reader)


def test_the_frame_is_a_length_and_a_typed_json_object() -> None:
    frame = wire.encode(wire.Lost("s", "a", "receive"))
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert json.loads(frame[4:]) == {"t": "Lost", "session": "s", "participant": "a", "leg": "receive"}


class RecordingEngine:
    """The gateway calls a worker makes, by name (the engine itself is tested with real peers)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> object:
        async def call(*_args: object) -> str:
            self.calls.append(name)
            return "v=0"

        return call


class Outbox:
    def __init__(self) -> None:
        self.sent: list[wire.Message] = []

    def send(self, message: wire.Message) -> None:
        self.sent.append(message)


@pytest.mark.parametrize(
    "request_", [m for m in SAMPLES if isinstance(m, typing.get_args(wire.Request))], ids=lambda m: type(m).__name__
)
async def test_the_worker_answers_every_request_the_node_can_send(request_: wire.Request) -> None:
    """A request the worker's loop let through unanswered (SetView was) left the node's call waiting out
    its deadline, and the session's media queue (a member's publish) behind it."""
    from server.media.workers import worker

    assert isinstance(request_, wire.REQUESTS)  # the worker's read loop hands it on
    engine, out = RecordingEngine(), Outbox()
    await worker.handle(engine, request_, out)  # type: ignore[arg-type]
    assert len(engine.calls) == 1
    assert [type(m) for m in out.sent] == [wire.Done] and out.sent[0].id == request_.id  # type: ignore[union-attr]
