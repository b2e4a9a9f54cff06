"""One subscriber's copy of one published track (``Sink``), and what the engine has forwarded (``Totals``).

A ``Sink`` is fed by a ``server.media.forwarder.Source`` (the simulcast layer it receives now) and
writes through a ``LeanSender``. Its bounded queue is the kernel send buffer of the subscriber's UDP
socket: when it is full the subscriber lags, drops packets and waits for a keyframe, like a new one.
Sending is synchronous (no task per subscriber): a per-packet task wake-up would cost more CPU than
the packet itself. Sequence numbers, timestamps and (after a layer switch) the VP8 running indexes
are shifted per sink; the payload after the VP8 descriptor is never touched.

``Sink.forward`` is the reference; when ``server/media/_fastpath.c`` is built, each sink's compiled
``Outlet`` does the same work (``tests/media/test_outlet.py`` holds both to the same bytes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from server.media import seam
from server.media.seam import LeanSender, compiled
from server.media.vp8 import Offsets, read_indexes, rebase, renumber

if TYPE_CHECKING:
    from server.media.forwarder import Source

_fastpath: Any = compiled.BUILT  # the compiled twin of ``Sink.forward`` + ``LeanSender.send``
COMPILED = compiled.fastpath is not None  # built, and not switched off by HEARTH_COMPILED_FORWARDING=0

RESTART_WINDOW = 512  # a late packet this far behind the newest may still be forwarded (SRTP allows 1024)
# A sink that moves to another simulcast layer sends that layer's keyframe this many RTP ticks (90 kHz
# video clock) after the last packet it forwarded: one frame at 30 fps. Layers keep their own random
# timestamp bases, so the subscriber's timeline is continued, not mapped; one frame off at most.
LAYER_SWITCH_STEP = 3000
# The same for audio, when a sink moves to its publisher's next publication (``Source.take_over``):
# one 20 ms Opus packet on the 48 kHz clock.
AUDIO_SWITCH_STEP = 960

_UNSHIFTED = Offsets()  # a sink that never switched layers forwards payloads untouched
MAX_LATENCY_SAMPLES = 4096  # fan-out times kept between two reads of ``/metrics``


@dataclass
class Totals:
    """What the engine has forwarded, for ``/metrics``: packets and payload bytes sent to subscribers,
    and sampled fan-out times (seconds from a packet's arrival at the tap to its last sink's send)."""

    packets: int = 0
    bytes: int = 0
    latency: list[float] = field(default_factory=list)

    def sample(self, seconds: float) -> None:
        if len(self.latency) < MAX_LATENCY_SAMPLES:
            self.latency.append(seconds)


class Sink:
    """One subscriber's copy of one publisher track, written through a ``LeanSender``.

    Sequence numbers are shifted by a per-sink offset, so gaps upstream stay gaps downstream and the
    subscriber's NACKs and the SFU's own upstream NACKs repair them. On a (re)start (new subscriber,
    lag, audio gate reopening) the offset is re-based so the subscriber sees a contiguous stream.
    """

    def __init__(
        self,
        subscriber_id: str,
        kind: str,
        lean: LeanSender,
        totals: Totals | None = None,
        compiled: bool | None = None,
    ) -> None:
        self.subscriber_id = subscriber_id
        self.totals = totals if totals is not None else Totals()
        self.kind = kind
        self.lean = lean
        self.waiting_keyframe = kind == "video"
        self.dropped = 0
        self.open = True  # the gate of this (subscriber, publisher, kind): a closed one forwards nothing
        self.source: Source | None = None  # the source (the simulcast layer) this sink is fed by now
        self.joining: Source | None = None  # the layer it moves to at that layer's next keyframe
        self._active = False
        self._timestamp_out: int | None = None  # the newest forwarded packet's outgoing timestamp
        self._payload_out: bytes | None = None  # ... and its payload as it went out (its VP8 indexes)
        self._offsets = Offsets()  # added to the VP8 running indexes since the first layer switch
        self._rebase = False  # a layer switch: the next run's first packet re-bases ``_offsets``
        self._seq_offset = 0
        self._ts_offset = random.getrandbits(32)
        self._next_out = random.randrange(32768)
        self._start_in = 0
        self._high_in = 0
        self.outlet: Any = None
        # The subscriber's PLI, NACKs and their upstream numbers go to the layer it receives now.
        lean.upstream = self.upstream_seq
        lean.newest = self.timestamp_out
        lean.on_keyframe_request = self.request_keyframe
        lean.on_missing = self.repair_upstream
        if COMPILED if compiled is None else compiled:
            if _fastpath is None:
                raise RuntimeError("server/media/_fastpath.c is not built (pip install -e . builds it)")
            self.outlet = lean.outlet = _fastpath.Outlet(kind == "video", self._ts_offset, self._next_out)

    def restart(self) -> None:
        """Re-base sequence numbers at the next packet (video: at the next keyframe)."""
        self._active = False
        if self.outlet is not None:
            self.outlet.restart()

    def resume(self) -> None:
        """A reopened gate: re-base at the next packet, video at the next keyframe (a delta frame
        after a gap would decode against a picture the subscriber never got)."""
        self._active = False
        self.waiting_keyframe = self.kind == "video"
        if self.outlet is not None:
            self.outlet.resume()

    def switch(self, timestamp: int) -> None:
        """The next packets come from another simulcast layer, or from the publisher's next
        publication, starting with its packet stamped ``timestamp`` (video: a keyframe): sequence
        numbers re-base there (no gap), timestamps so that it goes out one frame
        (``LAYER_SWITCH_STEP``, audio ``AUDIO_SWITCH_STEP``) after the last packet forwarded (the
        streams' timestamp bases differ), and video's VP8 indexes so that it carries the last ones
        sent + 1 (each layer and each publication numbers its own)."""
        step = LAYER_SWITCH_STEP if self.kind == "video" else AUDIO_SWITCH_STEP
        if self._timestamp_out is not None:
            self._ts_offset = (self._timestamp_out + step - timestamp) & 0xFFFFFFFF
        self._rebase = self.kind == "video"  # its VP8 indexes continue ours too (``vp8.rebase``)
        self._active = False
        self.waiting_keyframe = self.kind == "video"
        if self.outlet is not None:
            self.outlet.switch(timestamp, step)

    def request_keyframe(self, why: str = seam.KEYFRAME_ASKED) -> None:
        """The subscriber asked for a keyframe (its PLI/FIR, or NACKs too stale to answer: ``why``):
        ask the layer it receives now."""
        if self.source is not None:
            self.source.request_keyframe(why)

    def repair_upstream(self, lost: list[int]) -> None:
        """The subscriber NACKed packets we never had: ask the layer they came from."""
        if self.source is not None:
            self.source.repair_upstream(lost)

    def timestamp_out(self) -> int | None:
        """The newest packet's outgoing RTP timestamp (None before the first): how stale a NACKed one is."""
        return int(self.outlet.timestamp_out) if self.outlet is not None else self._timestamp_out

    def upstream_seq(self, out: int) -> int | None:
        """The publisher's sequence number of outgoing ``out`` in this run, or None (before it, or a
        later one): a NACKed packet the history lacks is repaired upstream by this number."""
        if not self._active:
            return None
        seq = (out - self._seq_offset) & 0xFFFF
        if (seq - self._start_in) & 0x8000 or (self._high_in - seq) & 0x8000:
            return None
        return seq

    def forward(self, payload: bytes, seq: int, timestamp: int, marker: int, starts_keyframe: bool) -> bool:
        """Send one packet; returns False when this sink needs a keyframe before it can go on."""
        if self.outlet is not None:
            return self._forward_compiled(payload, seq, timestamp, marker, starts_keyframe)
        lean = self.lean
        if lean.sock is None and not lean.link():
            self._active = False
            self.waiting_keyframe = self.kind == "video"
            return True  # not connected yet: asking for a keyframe now would waste it
        if not self._active:
            if self.waiting_keyframe and not starts_keyframe:
                return False
            self.waiting_keyframe = False
            self._active = True
            self._start_in = self._high_in = seq
            self._seq_offset = (self._next_out - seq) & 0xFFFF
            if self._rebase:
                self._rebase = False
                last = None if self._payload_out is None else read_indexes(self._payload_out)
                self._offsets = rebase(last, read_indexes(payload), self._offsets)
        elif (seq - self._start_in) & 0x8000:
            return True  # from before our restart point: its sequence number is taken
        elif not (seq - self._high_in) & 0x8000:
            self._high_in = seq
            if (seq - self._start_in) & 0xFFFF > RESTART_WINDOW:
                self._start_in = (seq - RESTART_WINDOW) & 0xFFFF
        out = (seq + self._seq_offset) & 0xFFFF
        stamp = (timestamp + self._ts_offset) & 0xFFFFFFFF
        sent = payload if self._offsets == _UNSHIFTED or self.kind != "video" else renumber(payload, self._offsets)
        if not (out - self._next_out) & 0x8000:
            self._next_out = (out + 1) & 0xFFFF
            self._timestamp_out = stamp
            self._payload_out = sent
        if lean.send(sent, marker, stamp, out):
            totals = self.totals
            totals.packets += 1
            totals.bytes += len(payload)
            return True
        self.dropped += 1  # the socket buffer is full: this subscriber lags
        self._active = False
        self.waiting_keyframe = self.kind == "video"
        return self.kind != "video"

    def _forward_compiled(self, payload: bytes, seq: int, timestamp: int, marker: int, keyframe: bool) -> bool:
        """``forward`` by the outlet; the Python side only links it (``LeanSender.link`` attaches it)."""
        outlet = self.outlet
        outcome = outlet.forward(payload, seq, timestamp, marker, keyframe)
        if outcome == _fastpath.UNLINKED:
            if not self.lean.link():
                return True  # not connected yet: asking for a keyframe now would waste it
            outcome = outlet.forward(payload, seq, timestamp, marker, keyframe)
        if outcome == _fastpath.SENT:
            self.totals.packets += 1
            self.totals.bytes += len(payload)
        return bool(outcome != _fastpath.NEEDS_KEYFRAME)
