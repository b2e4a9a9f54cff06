"""One line that says what machine a benchmark ran on, so figures from different days can be compared.

These machines are virtual and not all alike: the same code has measured twice the server CPU on one
day as on another. Every benchmark prints this line first; the loop time is a fixed pure-Python
workload (best of 5), so a slower machine shows up as a larger figure.
"""

from __future__ import annotations

import os
import time


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def loop_ms() -> float:
    """Milliseconds for a fixed interpreter workload (a million dict updates), best of 5."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        counts: dict[int, int] = {}
        for i in range(1_000_000):
            key = i & 1023
            counts[key] = counts.get(key, 0) + i
        best = min(best, time.perf_counter() - started)
    return 1000 * best


def describe() -> str:
    return f"machine: {cpu_model()}, {os.cpu_count()} cores, reference loop {loop_ms():.0f} ms (lower is faster)"
