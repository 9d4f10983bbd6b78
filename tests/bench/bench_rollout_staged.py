"""Benchmark: a 4-stage rollout (1 % -> 10 % -> 50 % -> 100 %) with 30 s health windows to N
simulated gateways (default 10,000), fleet on PostgreSQL, real Mosquitto.

A stage counts a gateway once it applied and, a full window later, is online and has sent a
heartbeat (every 10 s) on the new version. Measures from the rollout request until the fleet
marks the rollout completed, with each stage's start. Target: <= 300 s for 10,000. Prints one
JSON line and writes tests/bench/results/rollout_staged.json.

    python3 tests/bench/bench_rollout_staged.py [--devices 10000 --window 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.rollout_harness import rig  # noqa: E402

RESULTS = REPO / "tests" / "bench" / "results" / "rollout_staged.json"
TARGET_S = 300.0
STAGES = [1.0, 10.0, 50.0, 100.0]


async def run(devices: int, window: float, db: str) -> dict[str, object]:
    """One staged rollout, timed stage by stage."""
    async with rig(devices=devices, heartbeat_s=10.0, db=db) as r:
        began = time.monotonic()
        created = await r.rollout(
            {
                "name": "bench-staged",
                "target": {"groups": ["benchcity"]},
                "stages": STAGES,
                "policy": {"health_window_s": window, "success_threshold": 1.0},
            }
        )
        stage_started = {0: 0.0}
        rollout = created
        async with asyncio.timeout(1800):
            while rollout["state"] == "running":
                await asyncio.sleep(0.5)
                rollout = await r.status(created["id"])
                stage_started.setdefault(rollout["current_stage"], time.monotonic() - began)
        total = time.monotonic() - began
        return {
            "bench": "rollout_staged",
            "db": db,
            "devices": devices,
            "stages": STAGES,
            "health_window_s": window,
            "connect_s": round(r.connect_s, 1),
            "stage_started_s": {str(k): round(v, 1) for k, v in sorted(stage_started.items())},
            "completed_s": round(total, 1),
            "state": rollout["state"],
            "reason": rollout["reason"],
            "healthy": sum(stage["healthy"] for stage in rollout["stages"]),
            "running_new_version": r.sim.running(created["version"]),
            "target_s": TARGET_S,
            "within_target": rollout["state"] == "completed" and total <= TARGET_S,
        }


def main() -> int:
    """Parse arguments, run, print and save the result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()
    result = asyncio.run(run(args.devices, args.window, args.db))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
