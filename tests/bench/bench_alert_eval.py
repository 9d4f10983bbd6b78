"""Benchmark: alert evaluation throughput, to compare with the fleet's ingest rate.

1. engine: the in-memory state machines alone (points/s through 12 rules over 1000 devices);
2. worker: the fleet's alert worker end to end on SQLite and PostgreSQL: new telemetry points
   are read incrementally from the database and evaluated; points/s from the first step to the
   last (every point must be scanned, and the planted crossings must open exactly one alert
   each). The ingest benchmark commits ~54k (SQLite) / ~68k (PostgreSQL) points/s: evaluation
   must be faster than that to keep up. Prints one JSON line; writes
   tests/bench/results/alert_eval.json.

    python3 tests/bench/bench_alert_eval.py [--points 200000 --devices 500]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from fleet.auth.guard import ROOT  # noqa: E402
from fleet.db.engine import create_engine, session_factory  # noqa: E402
from fleet.db.migrate import upgrade_to_head  # noqa: E402
from fleet.db.operations import Alert  # noqa: E402
from fleet.domain.alerts.engine import AlertEngine, AlertKey, RuleSpec  # noqa: E402
from fleet.domain.alerts.schemas import AlertRuleCreate  # noqa: E402
from fleet.domain.alerts.services import AlertService  # noqa: E402
from fleet.domain.alerts.worker import AlertWorker  # noqa: E402
from fleet.domain.ingest.schemas import BatchReceived  # noqa: E402
from fleet.domain.ingest.services import IngestService  # noqa: E402
from fleet.settings import DatabaseSettings  # noqa: E402
from protocol.senml import Record, TelemetryBatch  # noqa: E402
from tests import services  # noqa: E402

RESULTS = REPO / "tests" / "bench" / "results" / "alert_eval.json"
CHANNELS = ("tilt/x_angle", "level/water_level", "lamp/lamp_failure", "meter/voltage")


def bench_engine(n_points: int, devices: int) -> dict[str, object]:
    """Evaluations per second of the pure state machines."""
    engine = AlertEngine()
    rules = [
        RuleSpec(id=i, op=">", threshold=5.0 + i, hysteresis=0.5, min_duration_s=1.0)
        for i in range(12)
    ]
    rng = random.Random(1)
    samples = [
        (rules[rng.randrange(12)], AlertKey(0, f"d{rng.randrange(devices)}", "tilt/x_angle"),
         rng.uniform(0, 20), float(i))
        for i in range(n_points)
    ]  # fmt: skip
    started = time.perf_counter()
    for rule, key, value, at in samples:
        engine.observe(rule, key, value, at)
    elapsed = time.perf_counter() - started
    return {
        "points": n_points,
        "seconds": round(elapsed, 3),
        "points_per_s": int(n_points / elapsed),
    }


@contextlib.contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """A fresh database URL on `backend`."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'alerts.db'}"
        return
    with services.postgres_server() as server:
        name = services.unique_db_name("pkbench")
        url = services.create_database(server, name)
        try:
            yield url
        finally:
            services.drop_database(server, name)


async def bench_worker(url: str, n_points: int, devices: int) -> dict[str, object]:
    """Seed points (untimed), then time the worker until it has evaluated all of them."""
    settings = DatabaseSettings(url=url)
    await upgrade_to_head(settings)
    engine = create_engine(settings)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    async with sessions() as session:
        service = AlertService(session, ROOT)
        for name, channel, op, threshold in (
            ("tilt", "x_angle", ">", 5.0), ("water", "water_level", ">", 30.0),
            ("lamp fault", "lamp_failure", "true", 0.0),
        ):  # fmt: skip
            await service.create_rule(
                AlertRuleCreate(name=name, kind="threshold", channel=channel, op=op,  # type: ignore[arg-type]
                                threshold=threshold, hysteresis=0.5),
                now=now,
            )  # fmt: skip
    worker = AlertWorker(sessions, health_every_s=3600)
    await worker.step(now)
    per_batch = 500
    t0 = time.time() - 86400
    items = []
    for seq in range(n_points // per_batch):
        device = f"bench-{seq % devices}"
        records = tuple(
            Record(name=CHANNELS[i % 4], time=t0 + seq * per_batch + i,
                   value=9.0 if i % 4 == 0 and seq == 0 else 1.0 if i % 4 != 2 else 0.0)
            for i in range(per_batch)
        )  # fmt: skip
        batch = TelemetryBatch(boot_id="0123456789abcdef", seq=seq, records=records)
        items.append(BatchReceived(device_id=device, batch=batch, received_at=now))
    ingest = IngestService(sessions)
    for i in range(0, len(items), 40):
        await ingest.commit(items[i : i + 40], now=now)
    started = time.perf_counter()
    steps = 0
    watched = n_points * 3 // 4  # meter/voltage has no rule: the database filters it out
    while worker.stats.points_scanned < watched and steps < 10_000:
        await worker.step(now)
        steps += 1
    elapsed = time.perf_counter() - started
    async with sessions() as session:
        alerts = await session.scalar(select(func.count()).select_from(Alert))
    await engine.dispose()
    return {
        "points": worker.stats.points_scanned,
        "seconds": round(elapsed, 3),
        "points_per_s": int(worker.stats.points_scanned / elapsed),
        "steps": steps,
        "alerts_opened": alerts,
    }


def main() -> int:
    """Run both parts and print/write the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    summary: dict[str, object] = {"engine": bench_engine(1_000_000, 1000)}
    with tempfile.TemporaryDirectory() as workdir:
        for backend in args.backends.split(","):
            with database(backend, Path(workdir)) as url:
                result = asyncio.run(bench_worker(url, args.points, args.devices))
            summary[f"worker_{backend}"] = result
            print(json.dumps({backend: result}), file=sys.stderr, flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    ok = all(
        r["points"] == args.points * 3 // 4 and r["alerts_opened"] == 1  # type: ignore[index]
        for k, r in summary.items()
        if k.startswith("worker_")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
