"""The selective forwarding engine: publishers' RTP payloads to subscribers, never decoded.

A ``Source`` is one published track. Every packet is forwarded the moment it arrives, audio and video
alike: nothing waits for the rest of a frame, let alone for the next one (aiortc's jitter buffer holds
video until the next frame starts, +33 ms, and audio for 4 packets, +80 ms). Payloads are forwarded
as they came, so a subscriber reassembles exactly the publisher's encoded frame; the per-packet
inspection is "does a keyframe start here" (VP8 S bit, partition 0, then bit 0 of the payload
header). The one change: once a subscriber's copy has moved between simulcast layers, the running
indexes of the VP8 payload descriptor (PictureID, TL0PICIDX, KEYIDX) are shifted so they continue
across the switch (``server/media/vp8.py``); the VP8 payload after the descriptor is never touched.

A ``Sink`` (``server.media.sink``) is one subscriber's copy of one track. Loss is repaired by NACK
on both hops (the subscriber NACKs us, we answer from history, once per round trip and within a
budget; our receiver NACKs the publisher, after a reorder allowance and again while the gap stays
open, and the retransmission is forwarded as it arrives). A NACK for a packet that never reached us
is NACKed upstream; a gap beyond repair becomes one keyframe request (``Source.on_unrepairable``),
and its stale packets are not forwarded.

The rules below are the reference. When ``server/media/_fastpath.c`` is built (``pip install``
compiles it), a compiled ``Outlet`` per sink runs ``Sink.forward`` + ``LeanSender.send`` for all of a
source's sinks in one call per packet (``_fastpath.fan_out``): at N = 8 a packet is copied 7 times and
the Python per copy was a third of the CPU budget. ``tests/media/test_outlet.py`` holds both paths
to the same bytes on the wire; ``HEARTH_COMPILED_FORWARDING=0`` runs the Python path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from server.media.seam import compiled
from server.media.sink import Sink, Totals
from server.media.vp8 import vp8_is_keyframe, vp8_starts_frame

log = logging.getLogger(__name__)

_fastpath: Any = compiled.BUILT  # the compiled ``fan_out``: every open sink's outlet in one call per packet

# Why a keyframe is asked of a publisher (``Source.request_keyframe``), for the debug log.
# And the subscriber's own (``seam.KEYFRAME_ASKED``, ``seam.KEYFRAME_STALE_NACK``).
KEYFRAME_UNREPAIRABLE = "a gap beyond repair upstream"
KEYFRAME_WAITING = "a subscriber waits for one"  # new, lagging (its socket full) or re-based
KEYFRAME_LAYER = "a subscriber moves to this layer"
KEYFRAME_REPUBLISHED = "the publisher published again"
KEYFRAME_RESUMED = "a paused video resumes"
PLI_INTERVAL = 0.5  # at most one keyframe request upstream per publisher track per interval
# A subscriber's receiver report about its audio counts this long (browsers report audio every few seconds).
REPORTED_LOSS_TTL = 10.0
LevelObserver = Callable[[str, int, int], None]
LATENCY_SAMPLE_MASK = 63  # time one packet in 64 through the fan-out, for the metrics histogram


class Source:
    """One published track: fans each packet out to its sinks as it arrives (no reassembly wait)."""

    def __init__(
        self,
        publisher_id: str,
        kind: str,
        request_pli: Callable[[int], Awaitable[None]],
        on_level: LevelObserver | None = None,
        totals: Totals | None = None,
        repair: Callable[[list[int]], None] | None = None,
    ) -> None:
        """``repair``: NACK the publisher now for these of its packets (a subscriber asked for them and
        they never reached us): ``LeanReceiver.repair`` for this track."""
        self.publisher_id = publisher_id
        self._repair = repair
        self._totals = totals
        self._arrivals = 0
        self.octets = 0  # payload bytes arrived from the publisher: the allocator's rate of this track
        self.upstream_loss = 0.0  # fraction lost on the publisher's uplink at our last receiver report
        self.kind = kind
        self.sinks: list[Sink] = []
        self._open: list[Sink] = []  # the sinks whose gate is open: the ones a packet goes to
        self._joining: list[Sink] = []  # sinks of another layer of this video that move here at a keyframe
        self._outlets: list[Any] | None = None  # the open sinks' compiled outlets, when every one has one
        self._audible = True
        self._request_pli = request_pli
        self._on_level = on_level
        self._ssrc: int | None = None
        self._last_pli = 0.0
        self._pli_task: asyncio.Future[None] | None = None
        # A simulcast publisher's video: one Source per layer, lowest first, each holding the same list
        # (a new sink starts on the lowest, ``join`` moves it). A single stream is its own one layer.
        self.layers: list[Source] = [self]
        self.rid: str | None = None  # a simulcast layer's RTP stream id (None: a single stream)

    @property
    def ssrc(self) -> int | None:
        """The publisher's SSRC for this track, once a packet has arrived."""
        return self._ssrc

    @property
    def audible(self) -> bool:
        return self._audible

    @audible.setter
    def audible(self, value: bool) -> None:
        if value and not self._audible:
            for sink in self.sinks:
                sink.restart()  # no sequence gap for the time the gate was shut
        self._audible = value

    def on_ssrc(self, ssrc: int) -> None:
        self._ssrc = ssrc

    def on_unrepairable(self, why: str) -> None:
        """Upstream lost more than NACKs can repair (``why``): one keyframe request replaces the lost
        packets, if anyone receives this layer. A layer nobody is sent (every copy on another layer,
        or paused) needs none: a copy that moves here or resumes asks for its own. A browser encodes
        its simulcast layers together and a keyframe asked of one comes on every layer, each a burst
        on its uplink: in the lab eight give-ups on a top layer nobody watched asked for eight."""
        if self._open or self._joining:
            self.request_keyframe(f"{KEYFRAME_UNREPAIRABLE}: {why}")

    def on_upstream_loss(self, fraction: float) -> None:
        self.upstream_loss = fraction

    def downstream_loss(self, now: float) -> int:
        """The worst fraction lost (x/256) in a subscriber's latest receiver report about its copy of
        this audio, reports older than ``REPORTED_LOSS_TTL`` aside (0 for video). The publisher's
        receiver report carries it beside its uplink's own (``LeanReceiver.send_reports``), as
        LiveKit's SFU does: the browser's Opus tunes in-band FEC to the loss it is told of, and
        without this it heard only of its own uplink, never of a listener's lossy downlink."""
        if self.kind != "audio":
            return 0
        fresh = (lost for lost, at in (sink.lean.reported_loss for sink in self.sinks) if now - at < REPORTED_LOSS_TTL)
        return max(fresh, default=0)

    def repair_upstream(self, lost: list[int]) -> None:
        """A subscriber NACKed packets that never reached us (publisher's numbers): ask the publisher."""
        if self._repair is not None:
            self._repair(lost)

    def on_rtp(self, payload: bytes, seq: int, timestamp: int, marker: int, level: int) -> None:
        """Entry point from the receive path (``seam.InboundTrack``), once per incoming RTP packet.

        With compiled outlets this one frame is all the Python a packet meets between the compiled
        receive and the compiled copies (at N = 2 each Python call is a measurable share).
        """
        self._arrivals += 1
        self.octets += len(payload)
        if self._joining:
            self._admit(payload, timestamp)
        sample = self._totals is not None and not self._arrivals & LATENCY_SAMPLE_MASK
        started = time.perf_counter() if sample else 0.0
        outlets = self._outlets
        if outlets is None:
            self._fan_out(payload, seq, timestamp, marker, level)
        else:
            video = self.kind == "video"
            if not video:
                if not self._audible:
                    return  # strict floor / forced mute: no packets at all, not silence
                if level >= 0 and self._on_level is not None:
                    self._on_level(self.publisher_id, level, timestamp)
            done = _fastpath.fan_out(outlets, payload, seq, timestamp, marker, video)
            sent = done & _fastpath.SENT_MASK
            if sent and self._totals is not None:
                self._totals.packets += sent
                self._totals.bytes += sent * len(payload)
            if done & ~_fastpath.SENT_MASK:
                self._after_fan_out(done, payload, seq, timestamp, marker, video)
        if sample:
            self._totals.sample(time.perf_counter() - started)  # type: ignore[union-attr]

    def _fan_out(self, payload: bytes, seq: int, timestamp: int, marker: int, level: int) -> None:
        """The Python path: each sink in turn."""
        if self.kind == "audio":
            if not self._audible:
                return  # strict floor / forced mute: no packets at all, not silence
            if level >= 0 and self._on_level is not None:
                self._on_level(self.publisher_id, level, timestamp)
            for sink in self._open:
                sink.forward(payload, seq, timestamp, marker, False)
            return
        starts_keyframe = vp8_starts_frame(payload) and vp8_is_keyframe(payload)
        want = False
        for sink in self._open:
            if not sink.forward(payload, seq, timestamp, marker, starts_keyframe):
                want = True
        if want:
            self.request_keyframe(KEYFRAME_WAITING)

    def _after_fan_out(self, done: int, payload: bytes, seq: int, timestamp: int, marker: int, video: bool) -> None:
        """A compiled fan-out that needs Python: a sink not linked yet (linked here), or a keyframe wanted."""
        want = done & _fastpath.WANT_KEYFRAME
        if done & _fastpath.UNLINKED_ANY:
            keyframe = video and _fastpath.is_vp8_keyframe(payload)
            for sink in self._open:
                if not sink.outlet.linked and not sink.forward(payload, seq, timestamp, marker, keyframe):
                    want = True
        if want:
            self.request_keyframe(KEYFRAME_WAITING)

    def request_keyframe(self, why: str) -> None:
        """Throttled PLI to the publisher, for new, lagging or recovering subscribers (and their PLIs).
        ``why`` (a ``KEYFRAME_*`` word) goes to the debug log with each PLI sent: every keyframe costs
        the publisher's uplink a burst, and the lab's figures need to say whose rule asked for it."""
        now = time.monotonic()
        if self.kind != "video" or self._ssrc is None or now - self._last_pli < PLI_INTERVAL:
            return
        if self._pli_task is not None and not self._pli_task.done():
            return
        self._last_pli = now
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "keyframe asked of layer %d: %s", self.layers.index(self), why, extra={"participant": self.publisher_id}
            )
        self._pli_task = asyncio.ensure_future(self._request_pli(self._ssrc))

    def add_sink(self, sink: Sink) -> None:
        self.sinks.append(sink)
        sink.source = self
        self._gather()

    def remove_sink(self, sink: Sink) -> None:
        """Stop feeding ``sink`` (from this layer, and from one it was about to move to)."""
        if sink.joining is not None:
            sink.joining.cancel_join(sink)
        if sink.source is not None and sink.source is not self:
            sink.source.remove_sink(sink)  # the sink is on another layer of this video now
            return
        if sink in self.sinks:
            self.sinks.remove(sink)
            sink.source = None
        self._gather()

    def join(self, sink: Sink) -> None:
        """Feed ``sink``, now on another simulcast layer of the same video, from this layer's next
        keyframe (asked of the publisher now). Until it comes the sink keeps its layer: a switch
        never freezes the picture, and a delta frame of this layer never reaches a decoder that
        holds the other layer's pictures. A sink fed by nothing yet is simply added."""
        if sink.joining is not None and sink.joining is not self:
            sink.joining.cancel_join(sink)
        if sink.source is self:
            return
        if sink.source is None:
            self.add_sink(sink)
            return
        if sink.joining is not self:
            sink.joining = self
            self._joining.append(sink)
        self.request_keyframe(KEYFRAME_LAYER)

    def take_over(self, sink: Sink) -> None:
        """Feed ``sink``, a subscriber's copy of this publisher's previous publication of the track
        (it published again: a new connection after a network drop), from this one's first keyframe
        (audio: its next packet) on. The sink keeps its SSRC and continues its sequence numbers and
        timeline (``Sink.switch``), so the subscriber's m-line, track and tile carry on and nobody
        else renegotiates because one member reconnected."""
        if sink.joining is not None:
            sink.joining.cancel_join(sink)
        if sink.source is not None:
            sink.source.remove_sink(sink)
        sink.source = None
        sink.joining = self
        self._joining.append(sink)
        self.request_keyframe(KEYFRAME_REPUBLISHED)

    @property
    def waiting(self) -> tuple[Sink, ...]:
        """The sinks waiting to move here at this layer's next keyframe (``join``)."""
        return tuple(self._joining)

    def cancel_join(self, sink: Sink) -> None:
        """``sink`` no longer moves to this layer (it left, or another layer was chosen)."""
        if sink in self._joining:
            self._joining.remove(sink)
        sink.joining = None

    def _admit(self, payload: bytes, timestamp: int) -> None:
        """This layer's packet, with sinks waiting to move here: at a keyframe (audio: at any packet)
        they leave their layer or previous publication and this packet is their first
        (``Sink.switch`` continues their sequence and timeline); before it, the keyframe is asked for
        again (throttled)."""
        if self.kind == "video" and not (vp8_starts_frame(payload) and vp8_is_keyframe(payload)):
            self.request_keyframe(KEYFRAME_LAYER)
            return
        joining, self._joining = self._joining, []
        for sink in joining:
            sink.joining = None
            if sink.source is not None:
                sink.source.remove_sink(sink)
            sink.switch(timestamp)
            self.sinks.append(sink)
            sink.source = self
        self._gather()

    def gate(self, sink: Sink, open_: bool) -> None:
        """Open or close one subscriber's gate (place and floor: ``ForwardingPolicy.sees``/``hears``),
        from the next packet on, with no renegotiation. A reopened gate starts afresh: video at the
        next keyframe, asked of the publisher now, so the picture comes back at once and clean."""
        if sink.source is not None and sink.source is not self:
            sink.source.gate(sink, open_)  # the sink is on another layer of this video now
            return
        if sink.open == open_:
            return
        sink.open = open_
        if open_:
            sink.resume()  # no sequence gap for the time the gate was shut, and video from a keyframe
            self.request_keyframe(KEYFRAME_RESUMED)
        self._gather()

    def _gather(self) -> None:
        """The sinks a packet goes to (the open ones), and their compiled outlets when all have one."""
        self._open = [sink for sink in self.sinks if sink.open]
        outlets = [sink.outlet for sink in self._open]
        self._outlets = outlets if outlets and all(o is not None for o in outlets) else None

    async def close(self) -> None:
        """Drop every sink and wait for an in-flight PLI so nothing outlives the source (a sink kept
        for the publisher's next publication, ``engine._park``, must not hold this one alive)."""
        for sink in self._joining:
            sink.joining = None
        self._joining = []
        for sink in self.sinks:
            if sink.source is self:
                sink.source = None
        self.sinks.clear()
        self._open = []
        self._outlets = None
        if self._pli_task is not None and not self._pli_task.done():
            self._pli_task.cancel()
            await asyncio.gather(self._pli_task, return_exceptions=True)
        self._pli_task = None
