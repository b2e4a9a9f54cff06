"""Give memory back to the system, now and then: cyclic garbage first, then the C heap's free pages.

A node builds and tears down WebRTC connections all day (every drop, rejoin and republish), and
each costs many short-lived C allocations (OpenSSL's DTLS, libsrtp, aioice's buffers) besides
Python's. glibc keeps what is freed in its arenas for reuse and returns it to the system only from
the top of the heap, so a node's RSS ratchets up with the churn although nothing stays allocated:
after a 3-minute soak of 2 x 6 members, every session over and every Python object freed (tracemalloc
held 1.5 MB), the node held 335 MiB; ``malloc_trim(0)`` brought it to 189 MiB. A clinic's host
budgets memory by RSS, so the node trims now and then (a few milliseconds of the loop).

Trimming alone was not enough. A closed aiortc connection is a web of reference cycles (transports,
their callbacks, the connection) holding C memory of its own (OpenSSL's DTLS state, libsrtp sessions,
buffers), so only the cyclic collector frees it; and ``quiet_gc``'s thresholds made full collections
so rare that a 30-minute soak of 8 sessions x 8 members with a fault every few seconds ended at 3.7 GiB
RSS (from 107 MiB), with nothing leaked once collected. A full collection is not free, though: it
walks every object made since startup (the startup heap is frozen), which with two dozen members
connected cost 50-300 ms of CPU in a soak. So ``reclaim`` runs one full collection only when a
connection was closed since the last (``expect_garbage``), then the trim, every ``RECLAIM_SECONDS``:
a calm session pays nothing, and in churn garbage lives at most that long.

Only on glibc does the trim do anything (musl, macOS: the collection only). ``quiet_gc`` tunes
Python's collector for the node and for each media worker (``server/media/workers``); both run
``reclaim``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("hearth.heap")

RECLAIM_SECONDS = 30.0  # how often a node or media worker collects cyclic garbage and trims the heap
SLOW_RECLAIM = 0.02  # seconds: a collection or trim that takes longer is logged


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


_garbage_expected = False


def expect_garbage() -> None:
    """Cyclic garbage was made (a connection closed): the next ``reclaim`` collects."""
    global _garbage_expected
    _garbage_expected = True


async def reclaim() -> None:
    """Free cyclic garbage when some is expected (closed connections), then return the heap's free
    pages to the system (glibc's ``malloc_trim(0)``)."""
    global _garbage_expected
    started, cpu = time.perf_counter(), time.process_time()
    found = gc.collect() if _garbage_expected else 0
    _garbage_expected = False
    collected = time.perf_counter()
    if _TRIM is not None:
        _TRIM(0)
    trimmed = time.perf_counter()
    if trimmed - started > SLOW_RECLAIM:
        log.info(
            "heap reclaimed: %d objects collected in %.0f ms, trim %.0f ms (CPU %.0f ms in all)",
            found,
            (collected - started) * 1000,
            (trimmed - collected) * 1000,
            (time.process_time() - cpu) * 1000,
        )


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
