"""Speaking detection from RFC 6464 audio levels: no decoding, and only durations are kept.

Publishers (browsers, and aiortc when it encodes) put ``-dBov`` of each audio packet into the
``ssrc-audio-level`` header extension. That is enough to show who is speaking and to add up how long
each participant spoke; nothing about what was said is ever looked at.
"""

from __future__ import annotations

SPEECH_DBOV = 45  # a packet louder than -45 dBov counts as speech
FLOOR_DBOV = 80  # levels at or below -80 dBov show as 0
OPUS_CLOCK = 48000
MAX_PACKET_SECONDS = 0.12  # a gap in timestamps (DTX, gating) is not counted as speech


def level_of(dbov: int) -> float:
    """Map -dBov (0 loud .. 127 silent) to 0..1 for the UI, linear in dB above the floor."""
    return max(0.0, min(1.0, (FLOOR_DBOV - dbov) / FLOOR_DBOV))


class SpeakingMeter:
    """Per-session accumulator, fed per audio packet and drained by the 5 Hz speaking emitter."""

    def __init__(self) -> None:
        self._peak: dict[str, float] = {}
        self._loudest: dict[str, int] = {}
        self._last_ts: dict[str, int] = {}
        self._spoke: dict[str, float] = {}
        self._shown: dict[str, float] = {}

    def observe(self, participant_id: str, dbov: int, rtp_timestamp: int) -> None:
        previous = self._last_ts.get(participant_id)
        self._last_ts[participant_id] = rtp_timestamp
        level = level_of(dbov)
        self._peak[participant_id] = max(level, self._peak.get(participant_id, 0.0))
        if dbov < self._loudest.get(participant_id, 128):
            self._loudest[participant_id] = dbov
        if dbov <= SPEECH_DBOV and previous is not None:
            seconds = ((rtp_timestamp - previous) & 0xFFFFFFFF) / OPUS_CLOCK
            if 0 < seconds <= MAX_PACKET_SECONDS:
                self._spoke[participant_id] = self._spoke.get(participant_id, 0.0) + seconds

    def flush(self) -> tuple[dict[str, float], str | None] | None:
        """Levels since the last flush, and the loudest speaker; None when nothing changed on screen."""
        levels = {pid: round(level, 2) for pid, level in self._peak.items()}
        for pid in self._shown:
            levels.setdefault(pid, 0.0)
        speaking = {pid: dbov for pid, dbov in self._loudest.items() if dbov <= SPEECH_DBOV}
        active = min(speaking, key=lambda pid: speaking[pid]) if speaking else None
        self._peak.clear()
        self._loudest.clear()
        if not any(levels.values()) and not any(self._shown.values()):
            self._shown = {}
            return None
        self._shown = levels
        return levels, active

    def forget(self, participant_id: str) -> None:
        for table in (self._peak, self._loudest, self._last_ts, self._shown):
            table.pop(participant_id, None)

    def take_spoke_seconds(self) -> dict[str, float]:
        spoke, self._spoke = self._spoke, {}
        return spoke
