"""Benchmark: a single-stage rollout to N simulated gateways (default 10,000) on PostgreSQL.

A real Mosquitto, `polekit fleet serve` as a subprocess on PostgreSQL, and this process
playing N gateways (fleet.sim: one MQTT connection and client id each, heartbeats, Ed25519
verification, reports). Measures from the rollout request until every gateway applied the
new version, and until the fleet counts them all. Target: <= 60 s for 10,000. Prints one JSON
line and writes tests/bench/results/rollout_single.json.

    python3 tests/bench/bench_rollout_single.py [--devices 10000]
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

from tests.bench.rollout_harness import rig, wait_for  # noqa: E402

RESULTS = REPO / "tests" / "bench" / "results" / "rollout_single.json"
TARGET_S = 60.0


async def run(devices: int, db: str) -> dict[str, object]:
    """One rollout, timed."""
    async with rig(devices=devices, heartbeat_s=30.0, db=db) as r:
        began = time.monotonic()
        created = await r.rollout(
            {
                "name": "bench-single",
                "target": {"groups": ["benchcity"]},
                "stages": [100],
                "policy": {"health_window_s": 0, "success_threshold": 1.0},
            }
        )
        created_s = time.monotonic() - began
        version = created["version"]

        async def all_applied() -> bool:
            return r.sim.count(version) == devices

        applied_s = created_s + await wait_for(all_applied, timeout=600, every=0.1)

        async def fleet_counts() -> bool:
            stage = (await r.status(created["id"]))["stages"][0]
            return bool(stage["applied"] + stage["healthy"] == devices)

        counted_s = applied_s + await wait_for(fleet_counts, timeout=600)
        final = await r.status(created["id"])
        return {
            "bench": "rollout_single",
            "db": db,
            "devices": devices,
            "connect_s": round(r.connect_s, 1),
            "create_s": round(created_s, 2),
            "all_applied_s": round(applied_s, 1),
            "fleet_counted_s": round(counted_s, 1),
            "state": final["state"],
            "target_s": TARGET_S,
            "within_target": applied_s <= TARGET_S and counted_s <= TARGET_S,
        }


def main() -> int:
    """Parse arguments, run, print and save the result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()
    result = asyncio.run(run(args.devices, args.db))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
