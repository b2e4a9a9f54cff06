"""What the machine was doing while a window was measured: these 2 cores are shared with other work,
and a starved browser freezes for reasons no network explains. Figures from this lab are quoted with
the cores its own processes used, the cores the whole machine was busy, and the load average."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.net.lab import Lab, pids_in

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Load:
    lab_cores: float  # CPU the lab's processes (browsers, servers, emulator) used, in cores
    busy_cores: float  # CPU the whole machine used, in cores
    cores: int
    load_average: float  # the 1-minute load average at the end

    def __str__(self) -> str:
        return (
            f"lab {self.lab_cores:.2f} cores, machine busy {self.busy_cores:.2f} of {self.cores} cores, "
            f"load average {self.load_average:.1f}"
        )


class LoadMeter:
    """Started at a window's beginning, read at its end."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.pids = self._pids()
        self.start = (self._ticks(self.pids), _machine())

    def _pids(self) -> list[int]:
        pids = [pid for ns in map(self.lab.namespace, self.lab.roles) for pid in pids_in(ns)]
        return pids + ([self.lab.emulator.pid] if self.lab.emulator else [])

    @staticmethod
    def _ticks(pids: list[int]) -> dict[int, int]:
        out = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            out[pid] = int(fields[11]) + int(fields[12])  # utime + stime
        return out

    def read(self) -> Load:
        (before, (busy0, total0)), now = self.start, self._ticks(self._pids())
        busy1, total1 = _machine()
        cores = os.cpu_count() or 1
        seconds = (total1 - total0) / TICKS / cores
        lab = sum(t - before[pid] for pid, t in now.items() if pid in before) / TICKS
        return Load(lab / seconds, (busy1 - busy0) / TICKS / seconds, cores, os.getloadavg()[0])


def _machine() -> tuple[int, int]:
    """Busy and total jiffies of all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)
