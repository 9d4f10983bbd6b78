"""Benchmark: the whole agent's memory at idle with 32 devices configured (target <= 35 MiB).

A typical cabinet: 32 simulated devices (16 Eastron SDM120 meters and 16 RS-485 environment
stations, with their drivers' default ranges and filters) on 4 Modbus TCP buses of 8, polled
every 10 s, delivering through a private Mosquitto to the fleet (subprocess, SQLite). The
agent is the real `polekit agent run` in its own process; simulator, broker and fleet run in
other processes and are not measured. After a warm-up, RSS is sampled every second and CPU
is measured over the window; the accounting must balance after a graceful stop.
Prints one JSON object (last line), writes tests/bench/results/agent_idle.json.

    .venv/bin/python tests/bench/bench_agent_idle.py [--seconds 25] [--warmup 12]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.agent_harness import (
    AgentProcess,
    accounting_check,
    agent_config,
    rss_summary,
    services,
    simulators,
    tcp_bus,
    workdir,
    write_result,
)

DEVICES = 32
PER_BUS = 8
POLL = "10s"
TARGET_RSS_MIB = 35.0


def driver_of(unit: int) -> str:
    """Meters on odd units, environment stations on even ones."""
    return "eastron_sdm120" if unit % 2 else "rs485_env"


def run(seconds: float, warmup: float) -> dict[str, Any]:
    """Start everything, let it settle, sample the agent, stop it, check the accounting."""
    specs = [f"{driver_of(u)}:{u}" for u in range(1, DEVICES + 1)]
    with (
        workdir("pk-bench-idle-") as tmp,
        services(tmp) as svc,
        simulators([specs]) as (sim,),
    ):
        buses = [
            tcp_bus(
                f"lan{start // PER_BUS}",
                sim.port,
                [
                    {"name": f"d{u}", "driver": driver_of(u), "unit": u, "poll": POLL}
                    for u in range(start + 1, start + PER_BUS + 1)
                ],
            )
            for start in range(0, DEVICES, PER_BUS)
        ]
        config = agent_config(
            device_id="bench-idle",
            buses=buses,
            broker=svc.broker,
            buffer_path=tmp / "buffer.db",
        )
        agent = AgentProcess(config, tmp, name="agent").start()
        try:
            first = agent.wait_until(
                lambda s: s.uptime >= warmup and s.counts["delivered"] > 0, timeout=warmup + 30
            )
            started = time.monotonic()
            agent.sample_for(seconds)
            last = agent.wait_status(newer_than=first.uptime)
            wall = last.wall - first.wall
            cpu = 100 * (last.cpu_seconds - first.cpu_seconds) / wall
            memory = rss_summary(agent.rss_samples, since=started)
            online = sum(1 for device in last.raw["health"]["devices"] if device["online"])
        finally:
            exit_code = agent.stop()
        report = agent.status_report()
    accounting = accounting_check(report)
    checks = {
        "rss_ok": memory["rss_mib_max"] <= TARGET_RSS_MIB,
        "all_devices_online": online == DEVICES,
        "accounting_balanced": accounting["balanced"],
        "clean_exit": exit_code == 0,
    }
    return {
        "benchmark": "agent_idle",
        "interpreter": sys.executable,
        "python": sys.version.split()[0],
        "workload": {"devices": DEVICES, "buses": DEVICES // PER_BUS, "poll": POLL},
        "seconds": round(wall, 1),
        "cpu_percent_of_one_core": round(cpu, 2),
        **memory,
        "devices_online": online,
        "accounting_after_stop": accounting,
        "target_rss_mib": TARGET_RSS_MIB,
        "checks": checks,
        "meets_targets": all(checks.values()),
    }


def main() -> int:
    """Parse arguments, run, print and write the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=25.0, help="sampling window")
    parser.add_argument("--warmup", type=float, default=12.0, help="agent uptime before sampling")
    args = parser.parse_args()
    result = run(args.seconds, args.warmup)
    write_result("agent_idle", result)
    return 0 if result["meets_targets"] else 1


if __name__ == "__main__":
    sys.exit(main())
