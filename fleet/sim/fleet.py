"""Many simulated gateways in one process: start, watch, take offline, stop."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import Iterable
from types import TracebackType

import msgspec

from fleet.sim.device import SimDevice


class SimOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How the simulated gateways behave."""

    heartbeat_s: float = 10.0
    telemetry_s: float = 0.0
    """Seconds between telemetry batches per device; 0: none."""
    keepalive_s: int = 60
    apply_delay_s: tuple[float, float] = (0.05, 0.5)
    """Each apply takes a random time in this range (a real agent's health window is longer)."""
    connect_concurrency: int = 256


def raise_fd_limit(wanted: int) -> int:
    """Raise RLIMIT_NOFILE towards `wanted` (up to the hard limit); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


class FleetSim:
    """N gateways, each with its own MQTT connection and client id."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        device_ids: Iterable[str],
        keys: dict[str, bytes],
        options: SimOptions | None = None,
        failing: Iterable[str] = (),
        degraded: Iterable[str] = (),
    ) -> None:
        self.host = host
        self.port = port
        self.keys = keys
        self.options = options or SimOptions()
        self.failing: set[str] = set(failing)
        """Devices whose applies fail their health window (they report rolled_back)."""
        self.degraded: set[str] = set(degraded)
        """Devices whose polls fail half the time once they run a fleet config."""
        self.devices = {device_id: SimDevice(device_id, self) for device_id in device_ids}
        self.connected: set[str] = set()
        self.outcomes: dict[str, tuple[int, str]] = {}
        self.connect_slots = asyncio.Semaphore(self.options.connect_concurrency)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, *, timeout: float = 120.0) -> float:  # noqa: ASYNC109 - a deadline
        """Connect every device; returns the seconds it took."""
        raise_fd_limit(len(self.devices) + 1024)
        began = time.monotonic()
        self._tasks = [
            asyncio.create_task(device.run(), name=f"sim-{device.id}")
            for device in self.devices.values()
        ]
        await self.wait_connected(timeout=timeout)
        return time.monotonic() - began

    async def wait_connected(self, *, timeout: float) -> None:  # noqa: ASYNC109 - a deadline
        """Wait until every device that wants to be online is connected."""
        async with asyncio.timeout(timeout):
            while True:
                if not self.missing():
                    return
                await asyncio.sleep(0.05)

    def missing(self) -> list[str]:
        """Devices that want to be online but are not connected."""
        return [d.id for d in self.devices.values() if d.wanted and d.id not in self.connected]

    async def stop(self) -> None:
        """Disconnect everyone cleanly."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    def count(self, version: int, status: str = "applied") -> int:
        """How many devices' last outcome is `status` for `version`."""
        return sum(1 for outcome in self.outcomes.values() if outcome == (version, status))

    def running(self, version: int) -> int:
        """How many devices run `version` now."""
        return sum(1 for d in self.devices.values() if d.guard.applied_version == version)

    async def __aenter__(self) -> FleetSim:
        await self.start()
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        await self.stop()
