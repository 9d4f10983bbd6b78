"""Run a simulator until told to stop: shared by `python -m drivers.sim` and `polekit driver`."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from drivers.registry import BUILTIN_ROOT, DriverRegistry
from drivers.sim.server import DeviceSpec, Simulator


async def serve(
    specs: Sequence[DeviceSpec],
    *,
    tcp_port: int | None,
    pty: bool,
    host: str = "127.0.0.1",
    driver_paths: Sequence[Path] = (),
) -> None:
    """Serve until SIGINT/SIGTERM; prints the endpoint as one JSON line on stdout first."""
    registry = DriverRegistry(paths=(BUILTIN_ROOT, *driver_paths))
    simulator = Simulator.for_specs(
        specs, loader=registry.load, tcp_port=tcp_port, pty=pty, host=host
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with simulator:
        sys.stdout.write(json.dumps(simulator.endpoint()) + "\n")
        sys.stdout.flush()
        await stop.wait()
