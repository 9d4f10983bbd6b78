"""Benchmark: telemetry points per second committed by `polekit fleet serve`, end to end.

A real Mosquitto (a private one on a free port unless --broker is given), the fleet as a
subprocess (its own CPU, as in production), and this process playing N devices: it publishes
pre-encoded SenML-CBOR batches QoS 1 and waits until every batch is acked. The rate is points
divided by the time from the first publish to the last ack; the database row counts are then
checked exactly. Runs against SQLite and PostgreSQL; prints one JSON line and writes
tests/bench/results/fleet_ingest.json.

    python3 tests/bench/bench_fleet_ingest.py [--devices 100 --batches 10 --points 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import aiomqtt  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from fleet.db.engine import create_null_pool_engine  # noqa: E402
from fleet.db.models import TelemetryBatch as BatchRow  # noqa: E402
from fleet.db.models import TelemetryPoint  # noqa: E402
from fleet.settings import DatabaseSettings  # noqa: E402
from protocol.messages import Ack, decode_message  # noqa: E402
from protocol.senml import Record, TelemetryBatch, encode_batch  # noqa: E402
from protocol.topics import Kind, topic_for  # noqa: E402
from tests import services  # noqa: E402
from tests.services import Broker, FleetProcess, MosquittoProcess  # noqa: E402

TARGETS = {"sqlite": 10_000, "postgresql": 20_000}
RESULTS = REPO / "tests" / "bench" / "results" / "fleet_ingest.json"
BOOT = "0123456789abcdef"


def make_payloads(run: str, devices: int, batches: int, points: int) -> list[tuple[str, bytes]]:
    """(topic, CBOR payload) for every batch, interleaved across devices like a live fleet."""
    t0 = time.time() - 3600
    channels = ("meter/voltage", "meter/current", "meter/power", "env/pm2_5", "env/temperature")
    payloads = []
    for seq in range(batches):
        for d in range(devices):
            records = tuple(
                Record(
                    name=channels[i % len(channels)],
                    time=t0 + seq * points + i,
                    value=float(i) + d / 10,
                    unit="V",
                )
                for i in range(points)
            )
            batch = TelemetryBatch(boot_id=BOOT, seq=seq, records=records)
            payloads.append((topic_for(f"{run}-{d}", Kind.TELEMETRY), encode_batch(batch)))
    return payloads


async def publish_and_wait(
    broker: Broker, run: str, payloads: list[tuple[str, bytes]], expected: int
) -> float:
    """Publish everything, wait for every batch's ack; returns seconds first publish -> last ack."""
    acked: set[tuple[str, str, int]] = set()
    done = asyncio.Event()
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=f"bench-{run}",
        protocol=aiomqtt.ProtocolVersion.V5,
        max_inflight_messages=1000,
    ) as client:
        client.pending_calls_threshold = 10_000  # many publishes in flight is the point here
        await client.subscribe(f"pk/v1/+/{Kind.ACK.value}", qos=1)

        async def receive() -> None:
            async for message in client.messages:
                device = message.topic.value.split("/")[2]
                if not device.startswith(run) or not isinstance(message.payload, bytes):
                    continue
                ack = decode_message(message.payload, Ack)
                for entry in ack.entries:
                    for first, last in entry.ranges:
                        acked.update((device, entry.boot_id, s) for s in range(first, last + 1))
                if len(acked) >= expected:
                    done.set()

        receiver = asyncio.create_task(receive())
        started = time.perf_counter()
        window = 500  # QoS 1 publishes in flight at once
        for start in range(0, len(payloads), window):
            chunk = payloads[start : start + window]
            await asyncio.gather(*(client.publish(t, p, qos=1) for t, p in chunk))
        await asyncio.wait_for(done.wait(), timeout=120)
        elapsed = time.perf_counter() - started
        receiver.cancel()
        await asyncio.gather(receiver, return_exceptions=True)
    return elapsed


async def count_rows(db_url: str, run: str) -> tuple[int, int]:
    """(batches, points) stored for this run's devices."""
    engine = create_null_pool_engine(DatabaseSettings(url=db_url))
    try:
        async with engine.connect() as connection:
            batches = await connection.scalar(
                select(func.count()).where(BatchRow.device_id.like(f"{run}-%"))
            )
            points = await connection.scalar(
                select(func.count()).where(TelemetryPoint.device_id.like(f"{run}-%"))
            )
    finally:
        await engine.dispose()
    return int(batches or 0), int(points or 0)


@contextlib.contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """A fresh database URL for one backend, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    with services.postgres_server() as server:
        name = services.unique_db_name("pkbench")
        url = services.create_database(server, name)
        try:
            yield url
        finally:
            services.drop_database(server, name)


def run_backend(backend: str, broker: Broker, args: argparse.Namespace) -> dict[str, object]:
    """One measurement: fresh database, fresh fleet process, all batches acked."""
    run = f"bench-{backend[:2]}-{os.getpid()}"
    payloads = make_payloads(run, args.devices, args.batches, args.points)
    n_batches = len(payloads)
    n_points = n_batches * args.points
    with (
        tempfile.TemporaryDirectory(prefix="pk-bench-") as tmp,
        database(backend, Path(tmp)) as url,
    ):
        fleet = FleetProcess(
            db_url=url,
            mqtt_url=broker.url,
            client_id=f"bench-fleet-{run}",
            extra_args=("--log-level", "warning"),
        )
        try:
            fleet.start()
            elapsed = asyncio.run(publish_and_wait(broker, run, payloads, n_batches))
        finally:
            fleet.close()
        stored_batches, stored_points = asyncio.run(count_rows(url, run))
    rate = n_points / elapsed
    return {
        "backend": backend,
        "devices": args.devices,
        "batches": n_batches,
        "points": n_points,
        "seconds": round(elapsed, 3),
        "points_per_s": round(rate),
        "target_points_per_s": TARGETS[backend],
        "meets_target": rate >= TARGETS[backend],
        "rows_verified": stored_batches == n_batches and stored_points == n_points,
        "stored_batches": stored_batches,
        "stored_points": stored_points,
    }


@contextlib.contextmanager
def broker_for(url: str | None) -> Iterator[Broker]:
    """The given broker, or a private mosquitto (the bench must not ack other runs' devices)."""
    if url:
        host, _, port = url.removeprefix("mqtt://").partition(":")
        yield Broker(host, int(port or 1883))
        return
    with MosquittoProcess(extra_config=("max_inflight_messages 1000",)) as broker:
        yield broker.broker


def main() -> int:
    """Run the benchmark; exit 1 if a row count is wrong (a target miss is reported, not fatal)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--batches", type=int, default=10, help="batches per device")
    parser.add_argument("--points", type=int, default=300, help="points per batch")
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument("--broker", help="mqtt://host:port (default: a private mosquitto)")
    args = parser.parse_args()
    results = []
    with broker_for(args.broker) as broker:
        for backend in args.backend.split(","):
            results.append(run_backend(backend, broker, args))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    summary = {"fleet_ingest": results}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))  # run_all.py reads the last stdout line
    return 0 if all(r["rows_verified"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
