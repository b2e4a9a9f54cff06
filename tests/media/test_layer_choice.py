"""How the room's round moves each subscriber's copy of a simulcast video between layers
(``bandwidth.choose_layers``): real forwarder sources for the layers, the subscriber's copy a stand-in
(only its place on a layer matters here; ``test_layers`` drives real copies across a switch)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from server.media import bandwidth
from server.media.forwarder import Source

PUBLISHER, SUBSCRIBER = "m-alex", "m-sam"


async def _no_pli(ssrc: int) -> None:
    """The publisher's keyframe request: nothing to ask of in these tests (no SSRC has arrived)."""


def simulcast(rates: tuple[int, int]) -> tuple[bandwidth.Bandwidth, Any, Any]:
    """A room's state with one two-layer video whose copy for ``SUBSCRIBER`` is on the low layer."""
    low, high = Source(PUBLISHER, "video", _no_pli), Source(PUBLISHER, "video", _no_pli)
    low.layers = high.layers = [low, high]
    copy = SimpleNamespace(open=True, joining=None, source=None, outlet=None)
    low.add_sink(copy)  # type: ignore[arg-type]
    peer = SimpleNamespace(
        participant_id=SUBSCRIBER,
        session_id="s-1",
        outgoing={(PUBLISHER, "video"): SimpleNamespace(source=low, sink=copy)},
    )
    room = bandwidth.Bandwidth()
    room.layer_rates = {id(low): rates[0], id(high): rates[1]}
    return room, peer, copy


def test_a_copy_moves_up_to_the_layer_its_allowance_carries() -> None:
    room, peer, copy = simulcast((150_000, 450_000))
    bandwidth.choose_layers(room, peer, {PUBLISHER: 2_000_000}, now=100.0)
    assert copy.joining is copy.source.layers[1]  # at the high layer's next keyframe


def test_a_video_paused_by_this_rounds_allocation_does_not_move_between_layers() -> None:
    """In the lab a capped member's round paused the floor holder's video and, the same round, moved its
    copy up to the high layer (no allowance read as no limit): a keyframe asked of the publisher, for
    everyone who sees it, for a video nobody was sent, and a probe later resumed it on the high layer."""
    room, peer, copy = simulcast((150_000, 450_000))
    bandwidth.choose_layers(room, peer, {}, now=100.0)
    assert copy.joining is None and copy.source is copy.source.layers[0]
