"""Figures from what netlab.js read in the pages: per received stream, per sending page, per condition.

Pure: two snapshots of a page (the start and the end of a window) go in, counter growth comes out.
A connection replaced during the window (a rejoin) shows as a new stream whose counters began at
zero; its figures are added to the old one's under the same sender and kind, and ``connections``
counts how many there were.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Snapshot = dict[str, Any]

# Counters that only grow; everything else in a row (fps, sizes, the target bitrate) is a reading.
COUNTERS = frozenset(
    {
        "packetsReceived",
        "packetsLost",
        "bytesReceived",
        "nackCount",
        "pliCount",
        "firCount",
        "framesDecoded",
        "framesDropped",
        "framesReceived",
        "keyFramesDecoded",
        "freezeCount",
        "totalFreezesDuration",
        "totalSamplesReceived",
        "concealedSamples",
        "silentConcealedSamples",
        "concealmentEvents",
        "retransmittedPacketsReceived",
        "retransmittedBytesReceived",
        "packetsSent",
        "bytesSent",
        "retransmittedPacketsSent",
        "retransmittedBytesSent",
        "framesEncoded",
        "keyFramesEncoded",
        "framesSent",
    }
)


def _growth(
    start: Snapshot, end: Snapshot, kind_of_row: str
) -> dict[tuple[str | None, str], tuple[dict[str, float], int]]:
    """Counter growth summed by (sender name, kind) over rows of one type, and how many connections."""
    before = {row["key"]: row for row in start["streams"]}
    out: dict[tuple[str | None, str], tuple[dict[str, float], int]] = {}
    for row in end["streams"]:
        if row["type"] != kind_of_row:
            continue
        old = before.get(row["key"], {})
        grew = {k: float(v) - float(old.get(k, 0)) for k, v in row.items() if k in COUNTERS}
        key = (row.get("name"), row["kind"])
        total, connections = out.get(key, ({}, 0))
        for k, v in grew.items():
            total[k] = total.get(k, 0.0) + v
        moved = grew.get("packetsReceived", 0.0) + grew.get("packetsSent", 0.0) > 0
        out[key] = (total, connections + moved)
    return out


@dataclass(frozen=True)
class Received:
    """What one page received of one sender's audio or video over a window."""

    receiver: str
    sender: str | None
    kind: str
    seconds: float
    grew: dict[str, float]
    connections: int = 1

    def _rate(self, counter: str) -> float:
        return self.grew.get(counter, 0.0) * 60 / self.seconds

    @property
    def freezes_per_minute(self) -> float:
        return self._rate("freezeCount")

    @property
    def frozen_seconds(self) -> float:
        return self.grew.get("totalFreezesDuration", 0.0)

    @property
    def fps(self) -> float:
        return self.grew.get("framesDecoded", 0.0) / self.seconds

    @property
    def kbps(self) -> float:
        return self.grew.get("bytesReceived", 0.0) * 8 / self.seconds / 1000

    @property
    def concealed(self) -> float:
        """Share of audio samples the receiver had to make up (0..1)."""
        total = self.grew.get("totalSamplesReceived", 0.0)
        return self.grew.get("concealedSamples", 0.0) / total if total else 1.0

    @property
    def lost(self) -> float:
        """Share of packets the receiver never got, after repair (0..1)."""
        got, lost = self.grew.get("packetsReceived", 0.0), self.grew.get("packetsLost", 0.0)
        return lost / (got + lost) if got + lost > 0 else 1.0

    @property
    def retransmitted(self) -> float:
        """Share of received packets that were retransmissions (0..1)."""
        got = self.grew.get("packetsReceived", 0.0)
        return self.grew.get("retransmittedPacketsReceived", 0.0) / got if got else 0.0

    @property
    def keyframe_requests(self) -> float:
        """PLIs and FIRs this receiver sent."""
        return self.grew.get("pliCount", 0.0) + self.grew.get("firCount", 0.0)


@dataclass(frozen=True)
class Sent:
    """What one page sent of its own audio or video over a window."""

    sender: str
    kind: str
    seconds: float
    grew: dict[str, float]

    @property
    def retransmitted(self) -> float:
        sent = self.grew.get("packetsSent", 0.0)
        return self.grew.get("retransmittedPacketsSent", 0.0) / sent if sent else 0.0

    @property
    def keyframes_per_minute(self) -> float:
        return self.grew.get("keyFramesEncoded", 0.0) * 60 / self.seconds

    @property
    def kbps(self) -> float:
        return self.grew.get("bytesSent", 0.0) * 8 / self.seconds / 1000


def received(receiver: str, start: Snapshot, end: Snapshot) -> list[Received]:
    seconds = (end["at"] - start["at"]) / 1000
    grown = _growth(start, end, "inbound-rtp")
    return [
        Received(receiver, sender, kind, seconds, g, n) for (sender, kind), (g, n) in sorted(grown.items(), key=str)
    ]


def sent(sender: str, start: Snapshot, end: Snapshot) -> list[Sent]:
    seconds = (end["at"] - start["at"]) / 1000
    grown = _growth(start, end, "outbound-rtp")
    return [Sent(sender, kind, seconds, g) for (_, kind), (g, _n) in sorted(grown.items(), key=str)]


def _mean(values: Iterable[float]) -> float:
    listed = list(values)
    return statistics.fmean(listed) if listed else float("nan")


@dataclass(frozen=True)
class Cell:
    """One system under one condition over one window: every received stream and every sending page."""

    system: str  # "hearth" or "p2p"
    condition: str
    streams: list[Received]
    senders: list[Sent] = field(default_factory=list)
    # Share of the RTP packets the server sent that repeated one it had sent before (in-band
    # retransmissions to subscribers, counted by the emulator); None where there is no server.
    server_repeats: float | None = None
    load: str = ""  # what the machine was doing meanwhile (tests/net/load.py)

    def select(self, kind: str, receiver: str | None = None, sender: str | None = None) -> list[Received]:
        """Received streams of ``kind``, of one receiver or sender when named."""
        return [
            s for s in self.streams if s.kind == kind and receiver in (None, s.receiver) and sender in (None, s.sender)
        ]

    def video(self, *, receiver: str | None = None, sender: str | None = None) -> list[Received]:
        return self.select("video", receiver, sender)

    def audio(self, *, receiver: str | None = None, sender: str | None = None) -> list[Received]:
        return self.select("audio", receiver, sender)

    @property
    def freezes_per_minute(self) -> float:
        """Mean over received video streams."""
        return _mean(s.freezes_per_minute for s in self.video())

    @property
    def frozen_seconds(self) -> float:
        return _mean(s.frozen_seconds for s in self.video())

    @property
    def concealed(self) -> float:
        """Mean over received audio streams (0..1)."""
        return _mean(s.concealed for s in self.audio())

    @property
    def fps(self) -> float:
        return _mean(s.fps for s in self.video())

    @property
    def retransmitted_sent(self) -> float:
        """Share of the senders' packets that were retransmissions someone asked for (0..1)."""
        out = sum(s.grew.get("packetsSent", 0.0) for s in self.senders)
        return sum(s.grew.get("retransmittedPacketsSent", 0.0) for s in self.senders) / out if out else 0.0

    def line(self) -> str:
        """One printable line of this cell's headline figures."""
        server = "" if self.server_repeats is None else f" {100 * self.server_repeats:4.1f}% server rtx"
        return (
            f"{self.freezes_per_minute:5.1f} freezes/min {self.frozen_seconds:5.2f} s frozen {self.fps:5.1f} fps "
            f"{100 * self.concealed:5.1f}% concealed {100 * self.retransmitted_sent:4.1f}% sender rtx{server}"
        )

    def details(self) -> list[str]:
        rows = []
        for s in self.streams:
            figure = (
                f"{s.freezes_per_minute:5.1f} freezes/min {s.frozen_seconds:5.2f} s frozen {s.fps:5.1f} fps"
                if s.kind == "video"
                else f"{100 * s.concealed:5.1f}% concealed"
            )
            rows.append(
                f"  {s.sender} -> {s.receiver} {s.kind}: {figure} {s.kbps:6.0f} kbit/s {100 * s.lost:4.1f}% lost "
                f"{100 * s.retransmitted:4.1f}% rtx in {s.keyframe_requests:3.0f} PLI/FIR {s.connections} conn"
            )
        for t in self.senders:
            rows.append(
                f"  {t.sender} sends {t.kind}: {t.kbps:6.0f} kbit/s {100 * t.retransmitted:4.1f}% rtx "
                f"{t.keyframes_per_minute:5.1f} keyframes/min"
            )
        return rows


FLOWING = (5, 0.5)  # video is back when this many frames are shown within this many seconds (10 fps)


@dataclass(frozen=True)
class Recovery:
    """How one received video came back after an outage (seconds from the outage's end; None: never)."""

    receiver: str
    sender: str
    first: float | None  # the first frame shown after the end (may be a stale one, then a freeze)
    back: float | None  # the first frame from which video flows again (FLOWING)
    keyframe_requests: float  # PLIs and FIRs this receiver sent from before the cut until after it

    def __str__(self) -> str:
        def s(v: float | None) -> str:
            return "never" if v is None else f"{v:.2f} s"

        return (
            f"{self.sender} -> {self.receiver}: first frame {s(self.first)}, flowing {s(self.back)}, "
            f"{self.keyframe_requests:.0f} PLI/FIR"
        )


def recovery(receiver: str, sender: str, shown: list[float], end: float, within: float, requests: float) -> Recovery:
    """From the times frames were shown (seconds, wall clock), the outage's end, and how long after it
    the video was watched (later frames are not counted: "never" means not within that time)."""
    after = sorted(t for t in shown if end <= t <= end + within)
    count, span = FLOWING
    back = next(
        (t for i, t in enumerate(after) if i + count - 1 < len(after) and after[i + count - 1] - t <= span), None
    )
    return Recovery(
        receiver,
        sender,
        after[0] - end if after else None,
        back - end if back is not None else None,
        requests,
    )


def burst(
    bins: list[tuple[float, int, int]], start: float, end: float, step: float = 0.25, ahead: float = 2.0
) -> float:
    """The highest packet rate on a link in any ``step`` of the ``ahead`` seconds after an outage ended,
    over its mean rate in the 5 s before it began. The direct pair's recovery (a keyframe a stream)
    measured 1.4-3.1; a server that forwards what piled up during the outage (retransmissions of it,
    or a queue) goes well past 4."""
    before = sum(p for t, p, _ in bins if start - 5 <= t < start) / 5
    peaks = [
        sum(p for t, p, _ in bins if end + k * step <= t < end + (k + 1) * step) / step
        for k in range(int(ahead / step))
    ]
    return max(peaks) / before if before else float("inf")


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks, as bench/join_bench.py's."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
