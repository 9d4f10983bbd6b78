"""Heap of the MicroPython agent, measured on the MicroPython interpreter (wasm port).

Runs tests/micro/heap_probe.py through tests/micro/run.mjs: one 50-reading batch submitted,
filtered, encoded to SenML-CBOR, staged, flushed to the ring file, read back and acked, with
the garbage collector off so gc.mem_alloc() growth bounds the peak. Also times an Ed25519
verification. Prints one JSON line and writes tests/bench/results/micro_heap.json.

    .venv/bin/python tests/bench/bench_micro_heap.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.unit.micro.wasm import run_script  # noqa: E402 - needs the repo on sys.path

LIMIT_BYTES = 48 * 1024
PROBE = REPO / "tests" / "micro" / "heap_probe.py"


def measure() -> dict[str, Any]:
    """The probe's figures plus the limit they are held to."""
    lines = run_script(PROBE.read_text()).splitlines()
    result: dict[str, Any] = json.loads(lines[-1])
    result["limit_bytes"] = LIMIT_BYTES
    result["within_limit"] = (
        max(result["cycle_peak_bound_bytes"], result["cycle_peak_bound_bytes_float32_path"])
        <= LIMIT_BYTES
    )
    return dict(sorted(result.items()))


def main() -> int:
    """Measure, write the results file, print the JSON line."""
    result = measure()
    out = REPO / "tests" / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "micro_heap.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0 if result["within_limit"] else 1


if __name__ == "__main__":
    sys.exit(main())
