"""This process's memory and CPU use, read cheaply from /proc and os.times (no psutil on edge)."""

from __future__ import annotations

import os
import time

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size of this process in bytes (0 where /proc is unavailable)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


class CpuSampler:
    """CPU use of this process, in percent of one core, between successive samples."""

    def __init__(self) -> None:
        self._last_cpu = self._cpu_seconds()
        self._last_wall = time.monotonic()

    @staticmethod
    def _cpu_seconds() -> float:
        times = os.times()
        return times.user + times.system

    def sample(self) -> float:
        """Percent of one core used since the previous sample."""
        cpu, wall = self._cpu_seconds(), time.monotonic()
        elapsed = wall - self._last_wall
        used = cpu - self._last_cpu
        self._last_cpu, self._last_wall = cpu, wall
        return 0.0 if elapsed <= 0 else round(100.0 * used / elapsed, 2)
