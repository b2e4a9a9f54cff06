"""Which simulcast layers a publisher is asked to send: the ones a subscriber receives or could use.

A browser encodes every simulcast layer it offers whether anyone receives it or not. In a group of
eight in speaker view, seven members would encode their full-size top layer for nobody, each a
share of a phone's CPU, battery and uplink (LiveKit's "dynacast" pauses such layers too). A layer
above the lowest is wanted while some subscriber allowed to see the video is sent it or moving to it,
or, not paused, shows the video in a large tile or has not said how it shows it (it could move up).
The lowest layer is always sent: a small tile shows it and every paused video resumes on it.

A layer wanted again is asked for at once (the subscriber waits for it); one no longer wanted is
asked off only after ``LAYER_OFF_AFTER`` without anyone wanting it, so a speaker view that follows
the floor from one member to the next does not turn encoders off and on, a keyframe each time.
The page sets the encodings' ``active`` (``video.layers``, ``web/media-link.js``). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LAYER_OFF_AFTER = 10.0  # seconds a layer goes unwanted before its publisher is asked to stop sending it
SMALL_TILES = ("small", "hidden")  # tile sizes (``signaling.ports.TILE_SIZES``) the lowest layer fills


@dataclass(frozen=True)
class Copy:
    """One subscriber's copy of a simulcast video, as the asking needs it: the highest layer it is on
    or moving to (None: on none yet), its tile size (None: not told), and whether it is paused."""

    layer: int | None
    tile: str | None
    paused: bool


def wanted(layer_count: int, copies: Iterable[Copy]) -> int:
    """How many layers (lowest first, at least one) the copies of a video need now."""
    need = 1
    for copy in copies:
        if copy.layer is not None:
            need = max(need, copy.layer + 1)
        if not copy.paused and copy.tile not in SMALL_TILES:
            need = layer_count
    return min(need, layer_count)


@dataclass
class SentLayers:
    """One publication's layers asked for: ``count``, lowest first (a browser starts sending all of
    them), and since when fewer have been wanted (None: not fewer)."""

    count: int
    fewer_since: float | None = None

    def update(self, need: int, now: float) -> bool:
        """This round's need (``wanted``); returns whether ``count`` changed: up at once, down once
        fewer have been wanted for ``LAYER_OFF_AFTER``."""
        if need >= self.count:
            self.fewer_since = None
            grew = need > self.count
            self.count = need
            return grew
        if self.fewer_since is None:
            self.fewer_since = now
            return False
        if now - self.fewer_since < LAYER_OFF_AFTER:
            return False
        self.count, self.fewer_since = need, None
        return True
