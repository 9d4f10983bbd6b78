"""Run every benchmark script in this folder and print one JSON summary.

Each bench_*.py prints a JSON object on its last stdout line and writes
tests/bench/results/<name>.json; this collects them into results/summary.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run each benchmark in turn, showing progress; exit non-zero if any failed to run."""
    results: dict[str, object] = {}
    failed = []
    scripts = sorted(HERE.glob("bench_*.py"))
    for index, script in enumerate(scripts, start=1):
        print(f"[{index}/{len(scripts)}] {script.name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, check=False
        )
        elapsed = time.monotonic() - started
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        try:
            results[script.stem] = json.loads(lines[-1]) if lines else None
        except json.JSONDecodeError:
            results[script.stem] = None
        if proc.returncode != 0 or results[script.stem] is None:
            failed.append(script.name)
            print(proc.stderr[-2000:], file=sys.stderr)
        print(f"    done in {elapsed:.0f} s (exit {proc.returncode})", file=sys.stderr)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "summary.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
