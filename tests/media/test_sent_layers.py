"""Which simulcast layers a publisher is asked to send (``sent_layers``, ``bandwidth.ask_layers``): the
ones some subscriber receives or could use; a layer asked off stops without being read as a stall."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from server.media import bandwidth
from server.media.forwarder import Source
from server.media.sent_layers import LAYER_OFF_AFTER, Copy, SentLayers, wanted
from server.media.stalls import STALL_AFTER, LayerClock
from signaling.ports import ForwardingPolicy, MediaEvents

PUBLISHER, SUBSCRIBER = "m-alex", "m-sam"
POLICY = ForwardingPolicy(members=frozenset({PUBLISHER, SUBSCRIBER}))  # both admitted, in the main room


def test_a_large_tile_or_an_untold_one_wants_every_layer_a_small_one_the_lowest() -> None:
    assert wanted(2, [Copy(0, "small", False), Copy(0, "hidden", False)]) == 1
    assert wanted(2, [Copy(0, "small", False), Copy(0, "large", False)]) == 2
    assert wanted(3, [Copy(0, None, False)]) == 3  # the page has not said: it may show it large
    assert wanted(2, []) == 1  # nobody receives it: the lowest still goes (a subscriber starts there)


def test_the_layer_a_copy_is_on_or_moving_to_is_wanted_whatever_its_tile() -> None:
    """A tile that shrank keeps its copy on the high layer a while (``allocator.hold_layer``): that
    layer must not stop under it."""
    assert wanted(3, [Copy(1, "small", False)]) == 2
    assert wanted(2, [Copy(None, "small", False)]) == 1


def test_a_paused_copy_wants_no_more_than_the_layer_it_is_on() -> None:
    """Its link cannot carry the video now; it resumes on what the round then chooses."""
    assert wanted(2, [Copy(0, "large", True)]) == 1


def test_a_layer_wanted_again_is_asked_for_at_once_and_one_unwanted_after_a_while() -> None:
    sent = SentLayers(2)
    assert not sent.update(1, now=100.0)
    assert not sent.update(1, now=100.0 + LAYER_OFF_AFTER / 2)
    assert not sent.update(2, now=100.0 + LAYER_OFF_AFTER - 1)  # wanted again: the wait starts over
    assert not sent.update(1, now=200.0)
    assert sent.update(1, now=200.0 + LAYER_OFF_AFTER) and sent.count == 1
    assert sent.update(2, now=200.5 + LAYER_OFF_AFTER) and sent.count == 2


def test_a_layer_asked_off_stops_without_a_stall_or_a_rest_and_starts_again_fresh() -> None:
    clock = LayerClock()
    clock.observe([0, 0], 10.0)
    clock.observe([1000, 1000], 10.2)
    clock.ask(1)
    clock.observe([2000, 1100], 10.4)  # the top layer's last packets, after the ask
    clock.observe([3000, 1100], 10.4 + 2 * STALL_AFTER)
    assert not clock.stalled(1, 10.4 + 2 * STALL_AFTER) and not clock.resting(1, 10.4 + 2 * STALL_AFTER)
    clock.ask(2)
    clock.observe([4000, 1500], 11.4)
    assert clock.flowing(1, 11.4) and not clock.resting(1, 11.4)


async def _no_pli(ssrc: int) -> None:
    """The publisher's keyframe request: nothing to ask of here (no SSRC has arrived)."""


def room_with_one_copy() -> tuple[bandwidth.Bandwidth, dict[str, Any], Any]:
    """A two-layer video ("lo", "hi") and ``SUBSCRIBER``'s copy of it on the low layer."""
    low, high = Source(PUBLISHER, "video", _no_pli), Source(PUBLISHER, "video", _no_pli)
    low.layers = high.layers = [low, high]
    low.rid, high.rid = "lo", "hi"
    copy = SimpleNamespace(open=True, joining=None, source=None, outlet=None)
    low.add_sink(copy)  # type: ignore[arg-type]
    publisher = SimpleNamespace(participant_id=PUBLISHER, session_id="s-1", sources={"video": low}, outgoing={})
    subscriber = SimpleNamespace(
        participant_id=SUBSCRIBER,
        session_id="s-1",
        sources={},
        outgoing={(PUBLISHER, "video"): SimpleNamespace(source=low, sink=copy)},
    )
    return bandwidth.Bandwidth(), {PUBLISHER: publisher, SUBSCRIBER: subscriber}, copy


def test_a_publisher_shown_only_in_small_tiles_is_asked_for_its_low_layer_then_the_high_again_at_once() -> None:
    room, peers, _ = room_with_one_copy()
    policy = POLICY
    room.views[SUBSCRIBER] = {PUBLISHER: "small"}
    assert bandwidth.ask_layers(room, policy, peers, now=100.0) == []
    assert bandwidth.ask_layers(room, policy, peers, now=100.0 + LAYER_OFF_AFTER) == [(PUBLISHER, ["lo"])]
    assert room.clocks[PUBLISHER].asked == 1
    room.views[SUBSCRIBER] = {PUBLISHER: "large"}
    assert bandwidth.ask_layers(room, policy, peers, now=111.0 + LAYER_OFF_AFTER) == [(PUBLISHER, ["lo", "hi"])]
    assert bandwidth.ask_layers(room, policy, peers, now=112.0 + LAYER_OFF_AFTER) == []


def test_a_new_publication_starts_with_every_layer_asked_for() -> None:
    """Its page sends every layer again (fresh encodings): asking it down needs the wait again, and its
    high layer is watched for stalls again (the last publication's was asked off)."""
    room, peers, _ = room_with_one_copy()
    room.views[SUBSCRIBER] = {PUBLISHER: "small"}
    bandwidth.ask_layers(room, POLICY, peers, now=100.0)
    bandwidth.ask_layers(room, POLICY, peers, now=100.0 + LAYER_OFF_AFTER)
    assert room.clocks[PUBLISHER].asked == 1
    peers[PUBLISHER].sources = room_with_one_copy()[1][PUBLISHER].sources  # its copy is on the old one
    assert bandwidth.ask_layers(room, POLICY, peers, now=200.0) == []
    assert room.sent[PUBLISHER][1].count == 2 and room.clocks[PUBLISHER].asked == 2


async def test_a_publisher_whose_ask_cannot_be_delivered_costs_the_others_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One publisher's socket failing under the ask (gone meanwhile) is logged; the next is still asked."""
    delivered: list[tuple[str, list[str]]] = []

    class Events:
        async def video_layers(self, session_id: str, participant_id: str, rids: list[str]) -> None:
            if participant_id == PUBLISHER:
                raise ConnectionError("socket gone")
            delivered.append((participant_id, rids))

    events = cast(MediaEvents, Events())
    await bandwidth.tell_layers(events, "s-1", [(PUBLISHER, ["lo"]), (SUBSCRIBER, ["lo", "hi"])])
    assert delivered == [(SUBSCRIBER, ["lo", "hi"])]
    assert "video_layers callback failed" in caplog.text
