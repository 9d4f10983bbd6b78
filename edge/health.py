"""The agent's heartbeat: what the fleet and `polekit agent status` learn about a gateway."""

from __future__ import annotations

import time
from collections.abc import Sequence

from edge.buffer import Buffer
from edge.pipeline import Pipeline
from edge.process_metrics import CpuSampler, rss_bytes
from edge.scheduler import BusScheduler
from edge.system_metrics import sample
from protocol.messages import BusHealth, DeviceHealth, Health

AGENT_VERSION = "0.1.0"


class HealthCollector:
    """Assembles a Health message from the live parts of the agent."""

    def __init__(
        self,
        *,
        boot_id: str,
        config_version: int,
        pipeline: Pipeline,
        buffer: Buffer,
        schedulers: Sequence[BusScheduler],
        alarms: Sequence[str] = (),
        interval_s: float = 0.0,
        buffer_path: str = ".",
        buffer_max_bytes: int = 0,
    ) -> None:
        self._boot_id = boot_id
        self._config_version = config_version
        self._pipeline = pipeline
        self._buffer = buffer
        self._schedulers = schedulers
        self._alarms = alarms
        self._interval_s = interval_s
        self._buffer_path = buffer_path
        self._buffer_max_bytes = buffer_max_bytes
        self._started = time.monotonic()
        self._cpu = CpuSampler()

    def collect(self) -> Health:
        """A heartbeat as of now; CPU is averaged since the previous call."""
        now = time.time()
        stats = self._buffer.stats()
        buses: list[BusHealth] = []
        devices: list[DeviceHealth] = []
        for scheduler in self._schedulers:
            bus = scheduler.stats
            online = sum(1 for device in bus.devices.values() if device.online)
            buses.append(
                BusHealth(
                    name=bus.name,
                    polls_ok=bus.polls_ok,
                    polls_failed=bus.polls_failed,
                    requests=bus.requests_sent,
                    requests_saved=bus.requests_saved,
                    devices_online=online,
                    devices_total=len(bus.devices),
                    success_rate=_rate(bus.polls_ok, bus.polls_failed),
                )
            )
            for device in bus.devices.values():
                age = (
                    None
                    if device.last_reading_ts is None
                    else round(now - device.last_reading_ts, 3)
                )
                devices.append(
                    DeviceHealth(
                        bus=bus.name,
                        name=device.name,
                        online=device.online,
                        last_reading_age_s=age,
                        consecutive_failures=device.consecutive_failures,
                        last_error=device.last_error,
                    )
                )
        system = sample(self._buffer_path)
        return Health(
            boot_id=self._boot_id,
            uptime_s=round(time.monotonic() - self._started, 3),
            agent_version=AGENT_VERSION,
            config_version=self._config_version,
            rss_bytes=rss_bytes(),
            cpu_percent=self._cpu.sample(),
            counts=self._pipeline.accounting().to_message(),
            buffer_batches=stats.batches,
            buffer_bytes=stats.bytes_on_disk,
            buffer_oldest_age_s=stats.oldest_age,
            buffer_degraded=self._buffer.health().disk_full,
            buses=buses,
            devices=devices,
            alarms=list(self._alarms),
            interval_s=self._interval_s,
            mem_total_bytes=system.mem_total_bytes,
            mem_available_bytes=system.mem_available_bytes,
            disk_total_bytes=system.disk_total_bytes,
            disk_free_bytes=system.disk_free_bytes,
            soc_temp_c=system.soc_temp_c,
            buffer_max_bytes=self._buffer_max_bytes,
        )


def _rate(ok: int, failed: int) -> float | None:
    """Share of successful polls, None before the first one."""
    total = ok + failed
    return None if total == 0 else round(ok / total, 4)
