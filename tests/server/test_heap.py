"""The node gives freed C heap back to the system (``server.heap``)."""

from __future__ import annotations

import ctypes

import psutil

from server import heap


async def test_a_trim_returns_freed_heap_pages_to_the_system() -> None:
    assert heap._TRIM is not None, "this machine's libc is glibc: malloc_trim must be found"
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    # Blocks below the mmap threshold (so they come from the heap), each followed by a small one that
    # stays: freeing the big ones leaves free pages between live blocks, which only a trim returns.
    pairs = [(libc.malloc(16 * 1024), libc.malloc(64)) for _ in range(6400)]
    for block, _ in pairs:
        ctypes.memset(block, 1, 16 * 1024)  # touched: resident
    for block, _ in pairs:
        libc.free(block)
    before = psutil.Process().memory_info().rss
    await heap.trim()
    after = psutil.Process().memory_info().rss
    for _, small in pairs:
        libc.free(small)
    assert before - after > 50 * 1024 * 1024, (before >> 20, after >> 20)
