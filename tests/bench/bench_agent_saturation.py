"""Benchmark: the whole agent driven past what it can poll (saturation), memory bounded.

50 simulated Modbus TCP devices x 20 registers (the `bench_20reg` driver, one request per
poll), each on its own connection and bus, polled with no interval at all: every bus sends
its next request as soon as the last one is answered. Filters off. The agent is the real
`polekit agent run`; simulators (two processes), broker and fleet (SQLite) run elsewhere.
Whatever the uplink and fleet cannot take stays in the durable buffer on disk.

Reported over the measured window: values/s read (the saturation throughput; the peer,
ThingsBoard IoT Gateway, reads about 5,300 registers/s), values/s delivered (acked),
requests/s, agent CPU (% of one core), and RSS sampled every second (max must stay <= 60 MiB;
the slope shows whether it is bounded). After a graceful stop (SIGTERM), every value read
must be accounted for: read - out_of_range - filtered + aggregated_out == dropped_buffer_full
+ delivered + buffered + pending. Prints one JSON object (last line), writes
tests/bench/results/agent_saturation.json.

    .venv/bin/python tests/bench/bench_agent_saturation.py [--seconds 30] [--devices 50]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.agent_harness import (
    MIB,
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

PEER_REGISTER_READS_PER_S = 5_300
TARGET_RSS_MIB = 60.0
SIMULATORS = 2


def rss_slope(samples: list[tuple[float, int]]) -> float:
    """Least-squares RSS growth in MiB per minute over the samples."""
    if len(samples) < 3:
        return 0.0
    t0 = samples[0][0]
    xs = [at - t0 for at, _ in samples]
    ys = [rss / MIB for _, rss in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def run(seconds: float, warmup: float, devices: int) -> dict[str, Any]:
    """Start everything, saturate the agent, sample it, stop it, check the accounting."""
    groups = [
        [f"bench_20reg:{u}" for u in range(1, devices + 1) if u % SIMULATORS == k]
        for k in range(SIMULATORS)
    ]
    with workdir("pk-bench-sat-") as tmp, services(tmp) as svc, simulators(groups) as sims:
        buses = [
            tcp_bus(
                f"dev{u}",
                sims[u % SIMULATORS].port,
                [{"name": f"d{u}", "driver": "bench_20reg", "unit": u, "poll": 0}],
            )
            for u in range(1, devices + 1)
        ]
        config = agent_config(
            device_id="bench-saturation",
            buses=buses,
            broker=svc.broker,
            buffer_path=tmp / "buffer.db",
        )
        agent = AgentProcess(config, tmp, name="agent").start()
        try:
            first = agent.wait_until(lambda s: s.uptime >= warmup, timeout=warmup + 30)
            last = agent.wait_status(newer_than=first.uptime + seconds - 0.5, timeout=seconds + 15)
            measured = rates(first, last)
            window = [(at, rss) for at, rss in agent.rss_samples if at >= first.wall]
            memory = rss_summary(window)
            buffered_at_end = last.counts["buffered"]
        finally:
            exit_code = agent.stop(timeout=60)
        report = agent.status_report()
    accounting = accounting_check(report)
    slope = rss_slope(window)
    checks = {
        "beats_peer": measured["values_read_per_s"] > PEER_REGISTER_READS_PER_S,
        "rss_ok": memory["rss_mib_max"] <= TARGET_RSS_MIB,
        "accounting_balanced": accounting["balanced"],
        "clean_exit": exit_code == 0,
    }
    return {
        "benchmark": "agent_saturation",
        "interpreter": sys.executable,
        "python": sys.version.split()[0],
        "workload": {
            "devices": devices,
            "registers_per_device": 20,
            "poll": 0,
            "buses": devices,
            "simulator_processes": SIMULATORS,
            "filters": "off",
        },
        "saturation_values_per_s": measured["values_read_per_s"],
        **measured,
        **memory,
        "rss_slope_mib_per_min": round(slope, 2),
        "buffered_readings_at_end_of_window": buffered_at_end,
        "accounting_after_stop": accounting,
        "peer_register_reads_per_s": PEER_REGISTER_READS_PER_S,
        "target_rss_mib": TARGET_RSS_MIB,
        "checks": checks,
        "meets_targets": all(checks.values()),
    }


def main() -> int:
    """Parse arguments, run, print and write the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=6.0, help="agent uptime before measuring")
    parser.add_argument("--devices", type=int, default=50)
    args = parser.parse_args()
    result = run(args.seconds, args.warmup, args.devices)
    write_result("agent_saturation", result)
    return 0 if result["meets_targets"] else 1


if __name__ == "__main__":
    sys.exit(main())
