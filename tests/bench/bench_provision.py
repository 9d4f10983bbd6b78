"""Benchmark: an unprovisioned simulated gateway to verified, through provision and verify.

A Mosquitto with dynamic security, the real fleet (`polekit fleet serve` with provisioning),
and per run a new pole: simulated sensors on a pty, `polekit provision` (key, enrollment,
bundle to a directory), the gateway's first boot (`polekit agent run --bundle`), then
`polekit verify` until every check passes. Prints one JSON line and writes
tests/bench/results/provision.json.

    python3 tests/bench/bench_provision.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.provisioning.flow import provision_and_verify, site  # noqa: E402


def main() -> int:
    """Run the flow `--runs` times on one site and report the times."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    totals, provisions = [], []
    with (
        tempfile.TemporaryDirectory(prefix="pk-bench-prov-") as workdir,
        site(Path(workdir)) as place,
    ):
        for run in range(args.runs):
            result = provision_and_verify(place, pole_id=f"B{run:03d}")
            if result.verify.returncode != 0:
                print(result.verify.stdout, file=sys.stderr)
                return 1
            totals.append(result.elapsed_s)
            provisions.append(result.provision_s)
    summary = {
        "runs": args.runs,
        "provision_to_verified_s_median": round(statistics.median(totals), 2),
        "provision_to_verified_s_max": round(max(totals), 2),
        "provision_command_s_median": round(statistics.median(provisions), 2),
        "bound_s": 30.0,
        "setup": "dynsec mosquitto, fleet serve (sqlite), agent --bundle, 2 RTU sensors on a pty",
    }
    out = REPO / "tests" / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "provision.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
