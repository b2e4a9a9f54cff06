"""A simulcast layer that stops mid-stream: which layers have stalled, and where their copies go (pure).

A browser turns a simulcast layer off when its send estimate or its CPU no longer carries it
(libwebrtc gives the lowest layer its bitrate first, and drops the top one), and on again later; no
signal says so but the packets stopping. The allocator reads layer rates once a second, so a copy on
a layer that stopped froze until a round saw that layer's rate fall to nothing and moved it down, and
then for the lower layer's keyframe: 1.8-2.0 s in the lab, for every subscriber of that layer at once.

Read at the room loop's 5 Hz tick instead: a layer whose byte count has not moved for ``STALL_AFTER``
while a lower layer of the same video moved within that span has stalled (a whole video gone quiet is
a camera turned off or an outage, not this). Its copies join the highest lower layer still flowing,
at that layer's keyframe (``Source.join``: until it comes they keep what they have).

A stalled layer then rests: the allocator reads it as not flowing for ``REST_AFTER_STALL`` (doubling,
up to ``MAX_REST``, while it stalls again within twice its last rest). In the lab a starved
publisher's top layer (180-280 kbit/s for 640x480) stood still 1.5-2 s after each keyframe asked of
it; every subscriber moved up to it asked for one, so copies went up and straight back down, a
keyframe each way, every few seconds, and each stall froze every copy on it. No clock and no I/O
here: the caller passes ``now`` and the byte counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# Seconds a layer may go without a byte, while a lower one flows, before its copies leave it. Layers
# are encoded from the same camera frames, so a lower layer's frames arriving without this one's means
# it is off; a starved encoder skips a frame on one layer now and then (66 ms at 15 fps), far less.
STALL_AFTER = 0.4
REST_AFTER_STALL = 8.0  # seconds no copy moves up to a layer after it stalled ...
MAX_REST = 64.0  # ... doubling while it stalls again soon, at most this


@dataclass
class LayerClock:
    """One simulcast video's layers (lowest first): each one's byte count at the last look, and when
    that count last moved (None: not yet seen to move)."""

    octets: list[int] = field(default_factory=list)
    moved_at: list[float | None] = field(default_factory=list)
    stalled_at: list[float | None] = field(default_factory=list)  # when each layer last began a stall
    rest: list[float] = field(default_factory=list)  # each layer's last rest, seconds
    was_stalled: list[bool] = field(default_factory=list)
    asked: int | None = None  # layers the publisher is asked to send (``sent_layers``; None: all)

    def ask(self, count: int) -> None:
        """The publisher is asked to send its lowest ``count`` layers: those above stop by our asking,
        which is no stall, and when asked for again they start with no rest and no history."""
        self.asked = count
        for index in range(count, len(self.moved_at)):
            self.moved_at[index] = self.stalled_at[index] = None
            self.rest[index], self.was_stalled[index] = 0.0, False

    def observe(self, octets: Sequence[int], now: float) -> None:
        """The layers' byte counts now (the publisher's ``Source.octets``, which only grow). A count
        seen for the first time, or a video with another number of layers (it published again),
        starts over: nothing has moved yet. A layer found stalled now that was not at the last look
        begins a rest: ``REST_AFTER_STALL``, or twice its last one if its last stall began within
        twice that (``MAX_REST`` at most)."""
        if len(octets) != len(self.octets):
            count = len(octets)
            self.octets, self.moved_at, self.stalled_at = list(octets), [None] * count, [None] * count
            self.rest, self.was_stalled, self.asked = [0.0] * count, [False] * count, None
            return
        for index, count in enumerate(octets):
            if count != self.octets[index]:
                self.octets[index] = count
                if self.asked is None or index < self.asked:
                    self.moved_at[index] = now  # a layer asked off may send a last few packets: not a flow
        for index in range(len(octets)):
            stalled = self.stalled(index, now)
            if stalled and not self.was_stalled[index]:
                last, rest = self.stalled_at[index], self.rest[index]
                again = last is not None and now - last < 2 * rest
                self.rest[index] = min(2 * rest, MAX_REST) if again else REST_AFTER_STALL
                self.stalled_at[index] = now
            self.was_stalled[index] = stalled

    def resting(self, index: int, now: float) -> bool:
        """Whether layer ``index`` is stalled, or stalled within its rest: no copy moves up to it."""
        if self.stalled(index, now):
            return True
        began = self.stalled_at[index] if index < len(self.stalled_at) else None
        return began is not None and now - began < self.rest[index]

    def flowing(self, index: int, now: float) -> bool:
        """Whether layer ``index`` moved within ``STALL_AFTER`` of ``now``."""
        moved = self.moved_at[index] if index < len(self.moved_at) else None
        return moved is not None and now - moved < STALL_AFTER

    def stalled(self, index: int, now: float) -> bool:
        """Whether layer ``index`` has stalled: it has flowed, not for ``STALL_AFTER``, and a lower
        layer of the video flows."""
        if index < 1 or index >= len(self.moved_at) or self.moved_at[index] is None:
            return False  # the lowest, unknown, not seen to flow yet, or asked off (``ask``)
        return not self.flowing(index, now) and any(self.flowing(lower, now) for lower in range(index))

    def fallback(self, index: int, now: float) -> int | None:
        """The layer a stalled layer ``index``'s copies go to: the highest lower layer flowing (None: none)."""
        return next((lower for lower in range(index - 1, -1, -1) if self.flowing(lower, now)), None)
