"""Heartbeat system metrics: memory, the buffer's disk, the SoC temperature from /sys."""

from __future__ import annotations

from pathlib import Path

from edge.system_metrics import disk, memory, sample, soc_temperature


def _zone(root: Path, n: int, kind: str, millideg: str) -> None:
    zone = root / f"thermal_zone{n}"
    zone.mkdir(parents=True)
    (zone / "type").write_text(kind + "\n")
    (zone / "temp").write_text(millideg + "\n")


def test_soc_temperature_prefers_the_cpu_zone(tmp_path: Path) -> None:
    _zone(tmp_path, 0, "acpitz", "30000")
    _zone(tmp_path, 1, "cpu-thermal", "51234")
    _zone(tmp_path, 2, "broken", "n/a")
    assert soc_temperature(tmp_path) == 51.2


def test_soc_temperature_without_sensors_is_none(tmp_path: Path) -> None:
    assert soc_temperature(tmp_path) is None
    assert soc_temperature(tmp_path / "missing") is None


def test_memory_and_disk(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  2048 kB\nMemFree: 1 kB\nMemAvailable:  1024 kB\n")
    assert memory(meminfo) == (2048 * 1024, 1024 * 1024)
    assert memory(tmp_path / "none") == (0, 0)
    total, free = disk(str(tmp_path))
    assert total > 0
    assert 0 < free <= total
    assert disk(str(tmp_path / "no" / "such")) == (0, 0)
    metrics = sample(str(tmp_path / "buffer.db"))
    assert metrics.disk_total_bytes == total
