"""A subscriber copy's repair: NACKs answered from the sender's history, once per round trip, within
a budget, never stale, and paced (``server.media.pacing``); what we never had is asked of the publisher.

``Resends`` is half of ``seam.send.LeanSender`` (the other half sends): both paths, Python and the
compiled ``_fastpath.Outlet``, answer by the same rules, and ``tests/media/test_outlet.py`` holds them
to it byte for byte.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from server.media.pacing import ResendPacer

log = logging.getLogger(__name__)

# Why a subscriber's feedback asks for a keyframe (``on_keyframe_request``), for the forwarder's debug log.
KEYFRAME_ASKED = "the subscriber asked"  # its PLI or FIR
KEYFRAME_STALE_NACK = "the subscriber NACKed packets too old to resend"
HISTORY_SIZE = 512  # power of two: a NACK for older packets is answered with silence
HISTORY_MASK = HISTORY_SIZE - 1
# A subscriber's NACKs are answered at most once per packet per round trip, and within a budget, so a
# member on a weak downlink is never offered many times its normal packets (issue #16: 11-18x).
RESEND_INTERVAL = 0.1  # seconds: a packet resent this recently is not resent again (about one RTT)
RETRANSMIT_PERCENT = 25  # resent bytes at most this share of the bytes sent over the last 1-2 s
# A NACKed video packet more than a second of media behind the newest one sent is not resent: a
# subscriber back from an outage asks for everything it missed, and repaying that from the history
# within the budget would hold its picture back for seconds behind stale frames. One keyframe
# request upstream serves it sooner (issue #16: "a gap beyond the repair window becomes one keyframe
# request, not a burst of stale packets"). Random loss is repaired within a few round trips, far less.
STALE_REPAIR_TICKS = 90_000  # RTP ticks of the 90 kHz video clock
RTP_TIMESTAMP_MASK = 0xFFFFFFFF


def stale(newest: int, stamp: int) -> bool:
    """Whether RTP timestamp ``stamp`` is more than ``STALE_REPAIR_TICKS`` behind ``newest`` (across the
    wrap; a ``stamp`` ahead of ``newest`` is not behind it): the one rule ``_fastpath.c`` repeats."""
    return STALE_REPAIR_TICKS < (newest - stamp) & RTP_TIMESTAMP_MASK < 0x80000000


class Resends:
    """NACK answers for a ``LeanSender``: its history, socket and outlet are the sender's."""

    outlet: Any
    sock: Any
    kind: str
    _addr: Any
    _history: list[bytes | None]
    _octets: int
    on_keyframe_request: Callable[[str], None]
    on_missing: Callable[[list[int]], None] | None
    upstream: Callable[[int], int | None] | None
    newest: Callable[[], int | None]

    @property
    def packets_sent(self) -> int:
        raise NotImplementedError

    def reset_repair(self) -> None:
        """No packet resent yet, nothing earned or spent (what ``_fastpath.Outlet`` starts with)."""
        self._resent: list[tuple[int, float] | None] = [None] * HISTORY_SIZE  # (seq, when) by history slot
        self._resend_interval = RESEND_INTERVAL
        self._budget_octets = self._budget_current = 0
        self._resent_before = self._resent_now = 0
        self._retransmitted = self._resend_repeats = self._resend_over_budget = self._resend_stale = 0
        self._stale_asked: int | None = None  # the newest timestamp when stale NACKs last asked for a keyframe
        timer: asyncio.TimerHandle | None = getattr(self, "_pace_timer", None)
        if timer is not None:
            timer.cancel()
        self._pace_timer: asyncio.TimerHandle | None = None
        self._pacer = ResendPacer()

    @property
    def resend_interval(self) -> float:
        """Seconds within which a packet is resent at most once (an RTT estimate may raise it)."""
        return float(self.outlet.resend_interval) if self.outlet is not None else self._resend_interval

    @resend_interval.setter
    def resend_interval(self, seconds: float) -> None:
        self._resend_interval = seconds
        if self.outlet is not None:
            self.outlet.resend_interval = seconds

    @property
    def retransmitted(self) -> int:
        """Packets resent in answer to NACKs."""
        return int(self.outlet.retransmitted) if self.outlet is not None else self._retransmitted

    @property
    def resend_repeats(self) -> int:
        """NACKed packets not resent because they were resent within ``resend_interval``."""
        return int(self.outlet.resend_repeats) if self.outlet is not None else self._resend_repeats

    @property
    def resend_over_budget(self) -> int:
        """NACKed packets not resent because the retransmission budget was spent."""
        return int(self.outlet.resend_over_budget) if self.outlet is not None else self._resend_over_budget

    @property
    def resend_stale(self) -> int:
        """NACKed video packets not resent because they were ``STALE_REPAIR_TICKS`` behind the newest."""
        return int(self.outlet.resend_stale) if self.outlet is not None else self._resend_stale

    def roll_budget(self, now: float | None = None) -> None:
        """A new budget window: called once a second with the sender reports (``SubscriberRtcp``).

        Resent bytes over the last window and this one stay within ``RETRANSMIT_PERCENT`` of the
        payload bytes sent over the same span; no clock on the per-packet path. The window's packet
        rate is what resends are paced by (``pacing``).
        """
        self._pacer.measure(self.packets_sent, time.monotonic() if now is None else now)
        if self.outlet is not None:
            self.outlet.roll_budget()
            return
        self._budget_octets, self._budget_current = self._budget_current, self._octets
        self._resent_before, self._resent_now = self._resent_now, 0

    def retransmit(self, lost: list[int], now: float | None = None) -> list[int]:
        """Answer a NACK from the history of protected packets; older ones are gone.

        A packet is resent at most once per ``resend_interval`` (a NACK repeated within a round trip
        is answered by the resend already on its way), and only while the bytes resent stay within
        the budget (``roll_budget``); what is left is lost again, and the subscriber asks for a
        keyframe rather than a flood. Video ``STALE_REPAIR_TICKS`` behind the newest packet is not
        resent at all (counted in ``resend_stale``: ``answer_nack`` asks for a keyframe instead).
        Returns the publisher's sequence numbers of asked-for packets that never reached us (gaps
        upstream), for the caller to NACK upstream.
        """
        when = time.monotonic() if now is None else now
        if self.outlet is not None:
            return list(self.outlet.retransmit(lost, when))
        upstream: list[int] = []
        if self.sock is None:
            return upstream
        newest = self.newest() if self.kind == "video" else None
        for seq in lost:
            at = seq & HISTORY_MASK
            data = self._history[at]
            if data is None or int.from_bytes(data[2:4], "big") != seq:
                origin = self.upstream(seq) if self.upstream is not None else None
                if origin is not None:
                    upstream.append(origin)
                continue
            if newest is not None and stale(newest, int.from_bytes(data[4:8], "big")):
                self._resend_stale += 1
                continue
            resent = self._resent[at]
            if resent is not None and resent[0] == seq and when - resent[1] < self._resend_interval:
                self._resend_repeats += 1
                continue
            earned = self._octets - self._budget_octets
            if (self._resent_before + self._resent_now + len(data)) * 100 > earned * RETRANSMIT_PERCENT:
                self._resend_over_budget += 1
                continue
            try:
                self.sock.sendto(data, self._addr)
            except OSError:
                continue
            self._resent_now += len(data)
            self._retransmitted += 1
            self._resent[at] = (seq, when)
        return upstream

    def answer_nack(self, lost: list[int], now: float | None = None) -> None:
        """A subscriber's NACK: what it names is resent, paced (``pacing``), by ``_answer``."""
        self._pacer.ask(lost)
        self._pace(time.monotonic() if now is None else now)

    def stop_pacing(self) -> None:
        """Resends still waiting are dropped (the route is gone, or the sender is retired)."""
        if self._pace_timer is not None:
            self._pace_timer.cancel()
            self._pace_timer = None
        self._pacer.queue.clear()

    def _pace(self, now: float) -> None:
        """Resend what the pacer lets out now; come back when the next may go."""
        pacer = self._pacer
        while due := pacer.take(now):
            before = self.retransmitted
            self._answer(due, now)
            pacer.spend(self.retransmitted - before)
        wait = pacer.due()
        if wait is None or self._pace_timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a test that drives the clock): the next NACK or ``_pace`` call goes on
        self._pace_timer = loop.call_later(wait, self._paced)

    def _paced(self) -> None:
        """The timer's turn: a failure (a callback of a connection torn down meanwhile) drops what
        waits for this copy alone, logged; a later NACK from the subscriber is answered as ever."""
        self._pace_timer = None
        try:
            self._pace(time.monotonic())
        except Exception:
            log.exception("paced resends failed: dropped")
            self.stop_pacing()

    def _answer(self, lost: list[int], now: float) -> None:
        """``retransmit``, and what we never had asked of the publisher (``on_missing``); packets too
        stale to resend ask for one keyframe (``on_keyframe_request``) per second of media: the
        subscriber repeats its NACKs for them several times over."""
        refused = self.resend_stale
        upstream = self.retransmit(lost, now)
        if upstream and self.on_missing is not None:
            self.on_missing(upstream)
        if self.resend_stale != refused:
            newest, asked = self.newest(), self._stale_asked
            if newest is not None and (asked is None or stale(newest, asked)):
                self._stale_asked = newest
                self.on_keyframe_request(KEYFRAME_STALE_NACK)
