"""System metrics for the heartbeat: memory, disk of the buffer, SoC temperature.

All from /proc, statvfs and /sys (in-memory file systems: reads do not block on a disk).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

THERMAL_ROOT = Path("/sys/class/thermal")
_PREFERRED_ZONES = ("cpu", "soc", "x86_pkg_temp", "core")


@dataclass(frozen=True, kw_only=True)
class SystemMetrics:
    """One sample of the gateway's memory, disk and temperature (0 / None when unknown)."""

    mem_total_bytes: int = 0
    mem_available_bytes: int = 0
    disk_total_bytes: int = 0
    disk_free_bytes: int = 0
    soc_temp_c: float | None = None


def memory(meminfo: Path = Path("/proc/meminfo")) -> tuple[int, int]:
    """(total, available) bytes of RAM; (0, 0) where /proc is missing."""
    fields: dict[str, int] = {}
    try:
        for line in meminfo.read_text().splitlines():
            name, _sep, rest = line.partition(":")
            if name in ("MemTotal", "MemAvailable"):
                fields[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return 0, 0
    return fields.get("MemTotal", 0), fields.get("MemAvailable", 0)


def disk(path: str) -> tuple[int, int]:
    """(total, free for unprivileged writers) bytes of the file system holding `path`."""
    try:
        stat = os.statvfs(path)
    except OSError:
        return 0, 0
    return stat.f_blocks * stat.f_frsize, stat.f_bavail * stat.f_frsize


def soc_temperature(root: Path = THERMAL_ROOT) -> float | None:
    """The SoC temperature in degrees Celsius (a cpu/soc zone first), None without sensors."""
    try:
        zones = sorted(root.glob("thermal_zone*"))
    except OSError:
        return None
    readings: list[tuple[int, float]] = []
    for zone in zones:
        try:
            kind = (zone / "type").read_text().strip().lower()
            millideg = int((zone / "temp").read_text().strip())
        except (OSError, ValueError):
            continue
        rank = next((i for i, p in enumerate(_PREFERRED_ZONES) if p in kind), len(_PREFERRED_ZONES))
        readings.append((rank, millideg / 1000.0))
    if not readings:
        return None
    return round(min(readings)[1], 1)


def sample(buffer_path: str) -> SystemMetrics:
    """Memory, the buffer's disk and the SoC temperature, as of now."""
    total, available = memory()
    disk_total, disk_free = disk(os.path.dirname(os.path.abspath(buffer_path)))
    return SystemMetrics(
        mem_total_bytes=total,
        mem_available_bytes=available,
        disk_total_bytes=disk_total,
        disk_free_bytes=disk_free,
        soc_temp_c=soc_temperature(),
    )
