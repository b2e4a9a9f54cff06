"""How the room's round moves each subscriber's copy of a simulcast video between layers
(``bandwidth.choose_layers``): real forwarder sources for the layers, the subscriber's copy a stand-in
(only its place on a layer matters here; ``test_layers`` drives real copies across a switch)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from server.media import bandwidth
from server.media.forwarder import Source
from server.media.stalls import STALL_AFTER

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
        sources={},
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


def test_a_copy_stays_on_its_layer_while_no_layer_of_the_video_flows() -> None:
    """A camera turned off (or an outage): a move down to the lowest layer asked its keyframe for
    nothing, and when the camera came back every copy moved up again, a keyframe each; in the lab a
    starved publisher's top layer then stood still after it. The camera's return sends a keyframe on
    each layer: the copy goes on from there."""
    room, peer, copy = simulcast((0, 0))
    low, high = copy.source.layers
    low.remove_sink(copy)
    high.add_sink(copy)
    bandwidth.choose_layers(room, peer, {PUBLISHER: 2_000_000}, now=100.0)
    assert copy.joining is None and copy.source is high


def publishing(low: Source, peer: Any) -> dict[str, Any]:
    """The room's peers for ``drop_stalled``: the publisher of ``low``'s video, and the subscriber ``peer``."""
    publisher = SimpleNamespace(participant_id=PUBLISHER, session_id="s-1", sources={"video": low}, outgoing={})
    return {PUBLISHER: publisher, SUBSCRIBER: peer}


def test_a_copy_on_a_layer_that_stalled_drops_to_the_layer_still_flowing_within_a_tick() -> None:
    """A publisher's browser turned its top layer off: its copies froze until the next round saw the
    layer's rate at nothing (1.8-2.0 s in the lab). The 5 Hz look moves them as soon as the layer has
    stood still ``STALL_AFTER`` while the low one flowed, and the round does not move them back up."""
    room, peer, copy = simulcast((150_000, 450_000))
    low, high = copy.source.layers
    low.remove_sink(copy)
    high.add_sink(copy)
    peers = publishing(low, peer)
    for tick in range(3):  # both layers flow
        low.octets, high.octets = 1000 * (tick + 1), 5000 * (tick + 1)
        bandwidth.drop_stalled(room, peers, now=100.0 + 0.2 * tick)
    assert copy.joining is None
    stopped = 100.4
    for tick in range(1, 4):  # the top layer's count stands still
        low.octets += 1000
        bandwidth.drop_stalled(room, peers, now=stopped + 0.2 * tick)
        if stopped + 0.2 * tick - stopped < STALL_AFTER:
            assert copy.joining is None, "moved before the layer had stood still long enough"
    assert copy.joining is low  # at the low layer's next keyframe, asked for now
    bandwidth.choose_layers(room, peer, {PUBLISHER: 2_000_000}, now=stopped + 0.6)
    assert copy.joining is low, "the round moved it back up to a layer that stopped"


def test_after_a_stall_no_copy_moves_up_to_the_layer_while_it_rests_and_a_stall_soon_after_doubles_the_rest() -> None:
    """In the lab a starved publisher's top layer stood still 1.5-2 s after each keyframe asked of it,
    and each subscriber moved up to it asked for one: copies went up and straight back down, a keyframe
    each way, every few seconds, and each stall froze every copy on it."""
    room, peer, copy = simulcast((150_000, 450_000))
    low, high = copy.source.layers
    low.remove_sink(copy)
    high.add_sink(copy)  # on the top layer for long
    peers = publishing(low, peer)
    now = 100.0

    def flow(seconds: float, top: bool) -> None:
        nonlocal now
        for _ in range(round(seconds / 0.2)):
            now += 0.2
            low.octets += 1000
            high.octets += 5000 if top else 0
            bandwidth.drop_stalled(room, peers, now=now)

    def round_() -> None:
        bandwidth.choose_layers(room, peer, {PUBLISHER: 2_000_000}, now=now)
        for layer in (low, high):  # the keyframe of the layer the copy waits for arrives
            for sink in layer.waiting:
                layer.cancel_join(sink)
                sink.source.remove_sink(sink)
                layer.add_sink(sink)

    flow(1.0, top=True)
    flow(1.0, top=False)  # the top layer stalls: down, at once
    round_()
    assert copy.source is low
    flow(3.0, top=True)
    round_()
    assert copy.source is low, "back up to a layer that stalled 3.6 s ago"
    flow(5.0, top=True)
    round_()
    assert copy.source is high  # its rest (8 s) is over
    flow(1.0, top=False)  # it stalls again, 9 s after the last stall
    flow(12.0, top=True)
    round_()
    assert copy.source is low, "the rest did not double"
    flow(4.0, top=True)
    round_()
    assert copy.source is high


def test_a_copy_waiting_to_move_up_to_a_layer_that_stalled_stays_where_it_is() -> None:
    room, peer, copy = simulcast((150_000, 450_000))
    low, high = copy.source.layers
    high.join(copy)  # on the low layer, waiting for the high layer's keyframe
    peers = publishing(low, peer)
    for tick, top in enumerate((5000, 6000, 6000, 6000, 6000)):
        low.octets = 1000 * (tick + 1)
        high.octets = top
        bandwidth.drop_stalled(room, peers, now=100.0 + 0.2 * tick)
    assert copy.joining is None and copy.source is low
    assert high.waiting == ()
