"""Types of ``server/media/_fastpath.c``, the compiled packet path, read from its C argument formats.

Positional-only where the C side parses a tuple (``PyArg_ParseTuple``, ``METH_O``, ``METH_FASTCALL``);
``Outlet()`` alone takes keywords. A flag parsed with ``PyObject_IsTrue`` or ``p`` takes any object in
C; it is typed here as what the Python path passes. ``tests/media/test_fastpath.py`` holds the names
below equal to what the built module and its classes export.
"""

from collections.abc import Callable, Iterable
from typing import Any, Final

from _typeshed import ReadableBuffer

# Outcomes of one copy (Outlet.forward), as Sink.forward + LeanSender.send decide them.
SENT: Final[int]
SKIPPED: Final[int]
NEEDS_KEYFRAME: Final[int]
UNLINKED: Final[int]
LAGGING: Final[int]
# fan_out's answer: copies sent (SENT_MASK bits), or'ed with these flags.
WANT_KEYFRAME: Final[int]
UNLINKED_ANY: Final[int]
SENT_MASK: Final[int]
# The constants and limits the Python path defines too (tests/media/test_fastpath.py holds them equal).
HISTORY_SIZE: Final[int]
NACK_WINDOW: Final[int]
PICTURE_RING: Final[int]
MAX_ARRIVALS: Final[int]
RESTART_WINDOW: Final[int]
SRTP_TRAILER: Final[int]
RETRANSMIT_PERCENT: Final[int]
STALE_REPAIR_TICKS: Final[int]
REORDER_JITTERS: Final[int]
MAX_NACKS: Final[int]
MAX_REPAIR_GAP: Final[int]
REORDER_DELAY: Final[float]
MAX_REORDER_DELAY: Final[float]
NACK_RETRY_INTERVAL: Final[float]
RESEND_INTERVAL: Final[float]
# server.media.repair's round-trip rules (tests/media/test_repair.py holds them equal).
RTT_GAIN: Final[float]
RETRY_MARGIN: Final[float]
MIN_RETRY_INTERVAL: Final[float]
MAX_RETRY_INTERVAL: Final[float]
MAX_RTT_SAMPLE: Final[float]

class Outlet:
    """One subscriber's copy of one track: Sink.forward + LeanSender.send, compiled."""

    def __init__(self, video: bool, ts_offset: int, next_out: int) -> None: ...
    def attach(
        self,
        session: object,
        ctx: object,  # a hearth.srtp_context capsule (server.media.seam.compiled.context_capsule)
        fd: int,
        host: str,
        port: int,
        ssrc: int,
        payload_type: int,
        extension: ReadableBuffer,
        /,
    ) -> None: ...
    def detach(self) -> None: ...
    def restart(self) -> None: ...
    def resume(self) -> None: ...
    def switch(self, timestamp: int, step: int, /) -> None: ...
    def set_abs_send_time(self, offset: int, /) -> None: ...
    def forward(self, payload: ReadableBuffer, seq: int, timestamp: int, marker: int, keyframe: bool, /) -> int: ...
    def retransmit(self, lost: Iterable[int], now: float, /) -> list[int]:
        """Answer a NACK from the history (once per resend_interval per packet, within the budget; video
        older than STALE_REPAIR_TICKS behind the newest is not resent, but counted in resend_stale);
        the publisher's sequence numbers of what was asked for and never came to us."""

    def roll_budget(self) -> None: ...
    resend_interval: float
    @property
    def packets_sent(self) -> int: ...
    @property
    def octets(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def sr_ntp(self) -> int: ...
    @property
    def sr_rtp(self) -> int: ...
    @property
    def ssrc(self) -> int: ...
    @property
    def timestamp_out(self) -> int: ...
    @property
    def retransmitted(self) -> int: ...
    @property
    def resend_repeats(self) -> int: ...
    @property
    def resend_over_budget(self) -> int: ...
    @property
    def resend_stale(self) -> int: ...
    @property
    def linked(self) -> bool: ...
    @property
    def active(self) -> bool: ...
    @property
    def waiting_keyframe(self) -> bool: ...

class Inlet:
    """One publisher connection's lean receive path, compiled (seam.receive's rules)."""

    feedback_due: float  # when the next transport-cc feedback is due: one due time for both receive paths

    def guard(self, validated: set[tuple[str, int]], on_drop: Callable[[int], object], /) -> None: ...
    def set_session(self, session: object, ctx: object, /) -> None: ...  # ctx: a hearth.srtp_context capsule
    def add(
        self,
        ssrc: int,
        on_rtp: Callable[[bytes, int, int, int, int], object],
        on_nack: Callable[[list[int]], object],
        on_unrepairable: Callable[[], object],
        video: bool,
        level_id: int,
        clockrate: float,
        packets_received: int,
        max_seq: int,
        cycles: int,
        jitter_q4: int,
        last_arrival: int,
        last_timestamp: int,
        high: int,
        missing: Iterable[int],
        /,
    ) -> None: ...
    def remove(self, ssrc: int, /) -> None: ...
    def clear(self) -> None: ...
    def request(self, ssrc: int, lost: Iterable[int], /) -> None: ...
    def set_clock(self, clock: Callable[[], float], /) -> None: ...
    def set_transport_cc(self, ext_id: int, interval: float, on_feedback: Callable[[], object], /) -> None: ...
    def arrivals(self) -> list[tuple[int, float]]:
        """The transport-wide sequence numbers noted since the last call, with their arrival times, in order."""
    def stats(self, ssrc: int, /) -> tuple[int, int, int, int, int, int, int, int, list[int]] | None:
        """(packets_received, max_seq, cycles, jitter_q4, last_arrival, last_timestamp, lean_packets, high,
        missing), or None for an SSRC the inlet does not hold."""

def fan_out(
    outlets: list[Outlet], payload: ReadableBuffer, seq: int, timestamp: int, marker: int, video: bool, /
) -> int: ...
def is_vp8_keyframe(payload: ReadableBuffer, /) -> bool: ...
def hook(inlet: Inlet, original: Callable[[bytes, Any], object], /) -> Callable[[bytes, Any], object]:
    """A datagram_received for one ICE socket (an ``InletHook``, a type the module does not export)."""

def set_srtp(protect: object, unprotect: object, /) -> None: ...  # hearth.srtp_function capsules
