"""Give the C heap's freed memory back to the system, now and then.

A node builds and tears down WebRTC connections all day (every drop, rejoin and republish), and
each costs many short-lived C allocations (OpenSSL's DTLS, libsrtp, aioice's buffers) besides
Python's. glibc keeps what is freed in its arenas for reuse and returns it to the system only from
the top of the heap, so a node's RSS ratchets up with the churn although nothing stays allocated:
after a 3-minute soak of 2 x 6 members, every session over and every Python object freed (tracemalloc
held 1.5 MB), the node held 335 MiB; ``malloc_trim(0)`` brought it to 189 MiB. A clinic's host
budgets memory by RSS, so the node trims once a minute (a few milliseconds of the loop).

Only on glibc; elsewhere (musl, macOS) ``trim`` does nothing. ``quiet_gc`` tunes Python's own
collector for the node and for each media worker (``server/media/workers``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("hearth.heap")

TRIM_SECONDS = 60.0  # how often the node gives freed heap back
SLOW_TRIM = 0.02  # seconds: a trim that takes longer is logged


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


async def trim() -> None:
    """Return the heap's free pages to the system (glibc's ``malloc_trim(0)``)."""
    if _TRIM is None:
        return
    started = time.perf_counter()
    _TRIM(0)
    took = time.perf_counter() - started
    if took > SLOW_TRIM:
        log.info("heap trim took %.0f ms", took * 1000)


def quiet_gc() -> None:
    """Keep cyclic-GC pauses out of the delivery tail.

    Measured with bench/signaling_bench.py: full (generation 2) collections walked the whole heap and
    paused the loop for up to 166 ms, several times a minute, at 500 actions a second. The heap built at
    startup (imports, the app) is frozen out of collection, and young collections run less often, so a
    full collection is both rarer and shorter.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)
