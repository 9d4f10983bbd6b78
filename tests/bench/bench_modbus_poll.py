"""Benchmark: the bus scheduler polling 10 simulated devices x 20 registers over Modbus TCP.

The simulator runs in a separate process so only the agent side is measured. Three numbers
matter: polls/s flat out, CPU of this process at the agent's target load (100 requests/s of
20 registers), and raw decode speed. Prints one JSON object (last line) and writes
tests/bench/results/modbus_poll.json.

    python tests/bench/bench_modbus_poll.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from drivers.registry import BUILTIN_ROOT, DriverRegistry  # noqa: E402
from drivers.sim.process import SimulatorProcess  # noqa: E402
from edge.config import BusConfig, DeviceConfig, ModbusTcpConfig  # noqa: E402
from edge.devices import build_device  # noqa: E402
from edge.model import Reading  # noqa: E402
from edge.scheduler import BusScheduler  # noqa: E402
from edge.transport.modbus import TcpTransport  # noqa: E402
from edge.units import Duration  # noqa: E402

DEVICES = 10
RESULTS = Path(__file__).resolve().parent / "results" / "modbus_poll.json"


def bench_manifest() -> str:
    """20 single-register channels scattered over a 40-register span (every other one)."""
    lines = [
        "name: bench_station",
        "vendor: polekit",
        "model: bench 20 registers",
        "category: benchmark",
        "defaults: {register_type: holding, data_type: u16}",
        "channels:",
    ]
    for i in range(20):
        kind = "{data_type: i16, scale: 0.1, unit: Cel}" if i % 2 else "{unit: count}"
        sim = f"sim: {{script: noise, value: {100 + i}, amplitude: 5, low: 0}}"
        lines.append(f"  - {{name: r{i:02d}, address: {2 * i}, {kind[1:-1]}, {sim}}}")
    return "\n".join(lines) + "\n"


def rss_kib() -> tuple[int, int]:
    """(current, peak) resident set size of this process in KiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


async def run_phase(port: int, registry: DriverRegistry, *, poll: float, seconds: float) -> dict:
    count = 0

    def sink(readings: list[Reading]) -> None:
        nonlocal count
        count += len(readings)

    bus = BusConfig(name="bench", modbus_tcp=ModbusTcpConfig(host="127.0.0.1", port=port))
    devices = [
        build_device(
            DeviceConfig(name=f"d{unit}", driver="bench_station", unit=unit, poll=Duration(poll)),
            bus=bus,
            path=f"buses[0].devices[{unit - 1}]",
            loader=registry.load,
        )
        for unit in range(1, DEVICES + 1)
    ]
    scheduler = BusScheduler(
        name="bench",
        transport=TcpTransport(host="127.0.0.1", port=port, timeout=2.0),
        devices=devices,
        sink=sink,
    )
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    async with asyncio.TaskGroup() as group:
        task = scheduler.start(group)
        await asyncio.sleep(seconds)
        task.cancel()
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    stats = scheduler.stats
    return {
        "poll_interval_s": poll,
        "seconds": round(wall, 2),
        "polls_per_s": round(stats.polls_ok / wall, 1),
        "requests_per_s": round(stats.requests_sent / wall, 1),
        "values_per_s": round(count / wall, 1),
        "polls_failed": stats.polls_failed,
        "requests_saved_by_merging": stats.requests_saved,
        "requests_sent": stats.requests_sent,
        "cpu_percent_of_one_core": round(100 * cpu / wall, 2),
        "cpu_us_per_request": round(1e6 * cpu / max(stats.requests_sent, 1), 1),
    }


def decode_speed(registry: DriverRegistry, seconds: float = 1.0) -> float:
    """Values decoded per second by one block decoder on this core (no I/O)."""
    driver = registry.load("bench_station")
    decoder = driver.compile_block(driver.channels["r00"].register_type, 0, 39, driver.channels)
    raw = bytes(range(78))
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(1000):
            decoder.decode(raw)
        n += 1000
    return n * 20 / (time.perf_counter() - start)


async def main(seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="polekit-bench-") as tmp:
        folder = Path(tmp) / "bench_station"
        folder.mkdir()
        (folder / "driver.yaml").write_text(bench_manifest())
        registry = DriverRegistry(paths=(BUILTIN_ROOT, Path(tmp)), use_entry_points=False)
        specs = [f"bench_station:{unit}" for unit in range(1, DEVICES + 1)]
        async with SimulatorProcess(specs, driver_paths=[Path(tmp)]) as sim:
            flat_out = await run_phase(sim.port, registry, poll=0.0, seconds=seconds)
            # 10 devices every 0.1 s = 100 requests/s of 20 registers: the agent's budget case
            target = await run_phase(sim.port, registry, poll=0.1, seconds=seconds)
        rss, peak = rss_kib()
        return {
            "benchmark": "modbus_poll",
            "devices": DEVICES,
            "registers_per_device": 20,
            "requests_per_poll": 1,
            "flat_out": flat_out,
            "at_100_requests_per_s": target,
            "decode_values_per_s_one_core": round(decode_speed(registry)),
            "rss_mib": round(rss / 1024, 1),
            "peak_rss_mib": round(peak / 1024, 1),
            "budget": {"cpu_percent_at_100_rps": 8.0, "rss_mib_whole_agent": 35.0},
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    args = parser.parse_args()
    result = asyncio.run(main(args.seconds))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
