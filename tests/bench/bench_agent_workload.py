"""Benchmark: the whole agent on the ThingsBoard IoT Gateway comparison workload.

10 simulated Modbus TCP devices x 20 registers polled every 100 ms (about 2,000 values/s),
filters off, delivered through a private Mosquitto to the fleet (subprocess, SQLite), which
commits and acks every batch so the agent deletes it. The agent is the real
`polekit agent run` in its own process (10 buses, one TCP connection per device, the
`bench_20reg` driver from tests/bench/drivers: one request of 20 registers per poll); the
simulator, broker and fleet run in other processes and are not measured.

After a warm-up, over >= 30 s of the agent's own heartbeats: agent CPU (% of one core,
target <= 8), agent RSS (target <= 35 MiB), Modbus requests/s (target <= 100: one merged
request per device poll), values/s read and values/s delivered (acknowledged by the fleet).
After a graceful stop (SIGTERM), `polekit agent status --json` must balance:
read - out_of_range - filtered + aggregated_out == dropped_buffer_full + delivered + buffered
+ pending. Prints one JSON object (last line), writes tests/bench/results/agent_workload.json.

    .venv/bin/python tests/bench/bench_agent_workload.py [--seconds 30] [--warmup 8]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.agent_harness import (
    AgentProcess,
    accounting_check,
    agent_config,
    rates,
    rss_summary,
    services,
    simulators,
    tcp_bus,
    workdir,
    write_result,
)

DEVICES = 10
REGISTERS = 20
POLL = "100ms"
TARGETS = {"cpu_percent": 8.0, "rss_mib": 35.0, "requests_per_s": 100.0}


def run(seconds: float, warmup: float) -> dict[str, Any]:
    """Start everything, measure the agent, stop it gracefully, check the accounting."""
    with workdir("pk-bench-agent-") as tmp, services(tmp) as svc:
        specs = [f"bench_20reg:{unit}" for unit in range(1, DEVICES + 1)]
        with simulators([specs]) as (sim,):
            buses = [
                tcp_bus(
                    f"dev{unit}",
                    sim.port,
                    [{"name": f"d{unit}", "driver": "bench_20reg", "unit": unit, "poll": POLL}],
                )
                for unit in range(1, DEVICES + 1)
            ]
            config = agent_config(
                device_id="bench-workload",
                buses=buses,
                broker=svc.broker,
                buffer_path=tmp / "buffer.db",
            )
            agent = AgentProcess(config, tmp, name="agent").start()
            try:
                first = agent.wait_until(
                    lambda s: s.uptime >= warmup and s.counts["delivered"] > 0, timeout=warmup + 30
                )
                last = agent.wait_status(
                    newer_than=first.uptime + seconds - 0.5, timeout=seconds + 15
                )
                measured = rates(first, last)
                memory = rss_summary(agent.rss_samples, since=first.wall)
                uplink = last.raw["uplink"]
            finally:
                exit_code = agent.stop()
            report = agent.status_report()
    accounting = accounting_check(report)
    checks = {
        "cpu_ok": measured["cpu_percent_of_one_core"] <= TARGETS["cpu_percent"],
        "rss_ok": memory["rss_mib_max"] <= TARGETS["rss_mib"],
        "requests_ok": measured["requests_per_s"] <= TARGETS["requests_per_s"],
        "all_values_delivered": measured["values_delivered_per_s"]
        >= 0.95 * measured["values_read_per_s"],
        "accounting_balanced": accounting["balanced"],
        "clean_exit": exit_code == 0,
    }
    return {
        "benchmark": "agent_workload",
        "interpreter": sys.executable,
        "python": sys.version.split()[0],
        "workload": {
            "devices": DEVICES,
            "registers_per_device": REGISTERS,
            "poll": POLL,
            "offered_values_per_s": DEVICES * REGISTERS * 10,
            "filters": "off",
        },
        **measured,
        **memory,
        "uplink": {k: uplink[k] for k in ("connects", "published_batches", "republished_batches")},
        "accounting_after_stop": accounting,
        "targets": TARGETS,
        "checks": checks,
        "meets_targets": all(checks.values()),
    }


def main() -> int:
    """Parse arguments, run, print and write the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window (>= 30)")
    parser.add_argument("--warmup", type=float, default=8.0, help="agent uptime before measuring")
    args = parser.parse_args()
    result = run(args.seconds, args.warmup)
    write_result("agent_workload", result)
    return 0 if result["meets_targets"] else 1


if __name__ == "__main__":
    sys.exit(main())
