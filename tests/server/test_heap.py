"""The node gives memory back to the system (``server.heap``): cyclic garbage, then freed C heap."""

from __future__ import annotations

import ctypes
import gc
import weakref

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
    await heap.reclaim()
    after = psutil.Process().memory_info().rss
    for _, small in pairs:
        libc.free(small)
    assert before - after > 50 * 1024 * 1024, (before >> 20, after >> 20)


class Connection:
    """Stands for a closed aiortc connection: a cycle (it and its transport's callback) holding memory."""

    def __init__(self) -> None:
        self.buffers = bytearray(256 * 1024)
        self.on_close = self.close

    def close(self) -> None:
        pass


async def test_reclaiming_frees_cyclic_garbage_that_the_node_s_quiet_collector_leaves_alone() -> None:
    thresholds = gc.get_threshold()
    gc.disable()  # the worst case of quiet_gc's rare collections: none at all until reclaim
    try:
        connections = [Connection() for _ in range(200)]
        alive = [weakref.ref(c) for c in connections]
        del connections
        assert all(ref() is not None for ref in alive)  # unreachable, yet not freed: only cycles hold them
        await heap.reclaim()
        assert all(ref() is not None for ref in alive)  # no connection closed: a calm node walks no heap
        heap.expect_garbage()  # as closing a connection says
        await heap.reclaim()
        assert all(ref() is None for ref in alive)
    finally:
        gc.enable()
        gc.set_threshold(*thresholds)
