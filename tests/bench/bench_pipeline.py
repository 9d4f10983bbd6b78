"""Benchmark: edge pipeline throughput, filter -> buffer -> uplink -> Mosquitto -> fleet ack.

A child process (the "agent": same interpreter, measured alone with psutil) runs a real
`Pipeline` (range check on every channel, filter chain path, batcher, SenML-CBOR encoding),
the real SQLite `Buffer` (synchronous=full) and the real `Uplink` over MQTT v5 to a private
Mosquitto; the fleet runs as `polekit fleet serve` in its own process (SQLite by default) and
acks what it commits, so the agent deletes it. No Modbus: the child feeds synthetic readings
of 200 devices x 10 channels at its maximum rate, in chunks of 20 as a bus poll would.

Phases: feed flat out for --seconds (the uplink delivers concurrently), then close the open
batch and commit (the clock for "into the buffer" stops here), then stop feeding and let the
uplink drain for up to --drain seconds. Reported: readings/s committed into the durable
buffer (target >= 20,000), readings/s delivered and acknowledged by the fleet while feeding
flat out and while draining (target >= 5,000), agent CPU (% of one core) and RSS, and the
accounting balance at the end. Prints one JSON object (last line), writes
tests/bench/results/pipeline.json.

    .venv/bin/python tests/bench/bench_pipeline.py [--seconds 15] [--drain 30] [--db postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import psutil

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests import services  # noqa: E402
from tests.bench.agent_harness import MIB, rss_summary, workdir, write_result  # noqa: E402
from tests.services import FleetProcess, MosquittoProcess  # noqa: E402

DEVICES = 200
CHANNELS = 10
CHUNK = 20
TARGETS = {"into_buffer_per_s": 20_000, "delivered_per_s": 5_000}
BOOT_ID = "0123456789abcdef"


# --------------------------------------------------------------------------- the child


def _readings(start: float) -> Iterator[list[Any]]:
    """Endless chunks of CHUNK readings: a random walk per channel, 50 us apart."""
    import random

    from edge.model import Reading

    rng = random.Random(7)
    keys = [(f"dev{d:03d}", f"ch{c}") for d in range(DEVICES) for c in range(CHANNELS)]
    values = [rng.uniform(0, 100) for _ in keys]
    steps = [rng.choice((-1.0, -0.25, 0.25, 1.0)) for _ in range(4093)]
    index, ts = 0, start
    while True:
        chunk = []
        for _ in range(CHUNK):
            i = index % len(keys)
            values[i] += steps[index % len(steps)]
            index += 1
            ts += 0.00005
            device, channel = keys[i]
            chunk.append(Reading(device, channel, round(values[i], 2), ts, "Cel"))
        yield chunk


def _say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def child(broker_url: str, buffer_path: str, seconds: float, drain: float) -> None:
    """The measured process: feed, commit, drain; reports each phase on stdout."""
    from edge.buffer import Buffer
    from edge.config import FilterSpec
    from edge.filters import ChannelPolicy
    from edge.pipeline import Pipeline
    from edge.transport.mqtt import connect, parse_broker_url
    from edge.uplink import Uplink

    device_id = f"bench-pipeline-{os.getpid()}"
    broker = parse_broker_url(broker_url)
    # Every channel has a range check; a tenth also a deadband of 0 (suppresses exact repeats,
    # which the walk never makes), so the filter chain runs without dropping anything.
    policies = {
        (f"dev{d:03d}", f"ch{c}"): ChannelPolicy(
            range=(-1e6, 1e6), filters=(FilterSpec(deadband=0.0),) if c == 0 else ()
        )
        for d in range(DEVICES)
        for c in range(CHANNELS)
    }
    async with Buffer(path=buffer_path, max_bytes=512 << 20, synchronous="full") as buffer:
        pipeline = Pipeline(sink=buffer, boot_id=BOOT_ID, policies=policies)
        uplink = Uplink(
            session_factory=lambda: connect(
                broker=broker, device_id=device_id, encoding="cbor", keepalive=30
            ),
            buffer=buffer,
            encoding="cbor",
            inflight=16,
            ack_timeout=30,
            reconnect_max=5,
        )
        flusher = asyncio.create_task(pipeline.run(), name="pipeline-flush")
        sender = asyncio.create_task(uplink.run(), name="uplink")
        while not uplink.stats.connected:  # noqa: ASYNC110 - a poll of plain state, start-up only
            await asyncio.sleep(0.05)
        _say(phase="ready")
        chunks = _readings(time.time())
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            pipeline.submit(next(chunks))
            await asyncio.sleep(0)  # as between two bus polls: let the uplink and acks run
        fed = time.perf_counter() - started
        at_fed = pipeline.accounting()
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)  # hands over the open batch
        await buffer.flush()
        committed = time.perf_counter() - started
        at_commit = pipeline.accounting()
        _say(
            phase="fed",
            fed_s=fed,
            committed_s=committed,
            read=at_commit.read,
            delivered_while_feeding=at_fed.delivered,
            into_buffer=at_commit.read - at_commit.out_of_range - at_commit.filtered,
        )
        drain_started = time.perf_counter()
        drain_deadline = drain_started + drain
        while time.perf_counter() < drain_deadline:
            snap = buffer.accounting()
            if snap.buffered == 0 and snap.pending == 0:
                break
            await asyncio.sleep(0.05)
        drained = time.perf_counter() - drain_started
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        final = buffer.accounting()
    _say(
        phase="done",
        drain_s=drained,
        delivered=final.delivered,
        delivered_during_drain=final.delivered - at_commit.delivered,
        buffered=final.buffered,
        accounting=msgspec.to_builtins(final),
        balanced=final.is_balanced(),
        uplink={"republished_batches": uplink.stats.republished_batches},
    )


# --------------------------------------------------------------------------- the parent


@contextlib.contextmanager
def fleet_database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh fleet database URL (SQLite file, or a PostgreSQL database dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'fleet.db'}"
        return
    with services.postgres_server() as server:
        name = services.unique_db_name("pkbenchpipe")
        url = services.create_database(server, name)
        try:
            yield url
        finally:
            services.drop_database(server, name)


def run(seconds: float, drain: float, db: str) -> dict[str, Any]:
    """Start broker, fleet and the measured child; sample the child; collect its reports."""
    with (
        workdir("pk-bench-pipe-") as tmp,
        MosquittoProcess(extra_config=("max_inflight_messages 1000",)) as mosquitto,
        fleet_database(db, tmp) as db_url,
    ):
        fleet = FleetProcess(
            db_url=db_url,
            mqtt_url=mosquitto.url,
            client_id=f"bench-pipe-fleet-{os.getpid()}",
            extra_args=("--log-level", "warning"),
        )
        fleet.start()
        try:
            argv = [sys.executable, __file__, "--child", mosquitto.url, str(tmp / "buffer.db")]
            argv += ["--seconds", str(seconds), "--drain", str(drain)]
            proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
            return _measure(proc, seconds + drain + 60)
        finally:
            fleet.close()


def _measure(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    ps = psutil.Process(proc.pid)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    reports: dict[str, dict[str, Any]] = {}
    cpu: dict[str, float] = {}
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout
    while "done" not in reports:
        if time.monotonic() > deadline or proc.poll() not in (None, 0):
            proc.kill()
            raise RuntimeError(f"the pipeline child failed or hung (exit {proc.poll()})")
        with contextlib.suppress(psutil.NoSuchProcess):
            samples.append((time.monotonic(), int(ps.memory_info().rss)))
        try:
            line = lines.get(timeout=0.25)
        except queue.Empty:
            continue
        report = json.loads(line)
        times = ps.cpu_times()
        cpu[report["phase"]] = float(times.user + times.system)
        reports[report["phase"]] = report
    proc.wait(timeout=30)
    fed, done = reports["fed"], reports["done"]
    feed_cpu = 100 * (cpu["fed"] - cpu["ready"]) / fed["committed_s"]
    drain_cpu = 100 * (cpu["done"] - cpu["fed"]) / max(done["drain_s"], 1e-9)
    into_buffer = fed["into_buffer"] / fed["committed_s"]
    delivered_feeding = fed["delivered_while_feeding"] / fed["fed_s"]
    delivered_draining = done["delivered_during_drain"] / max(done["drain_s"], 1e-9)
    end_to_end = done["delivered"] / (fed["committed_s"] + done["drain_s"])
    checks = {
        "into_buffer_ok": into_buffer >= TARGETS["into_buffer_per_s"],
        "delivered_ok": min(delivered_feeding, end_to_end) >= TARGETS["delivered_per_s"],
        "accounting_balanced": bool(done["balanced"]),
    }
    return {
        "readings_read": fed["read"],
        "feed_seconds": round(fed["committed_s"], 2),
        "into_buffer_per_s": round(into_buffer),
        "delivered_per_s_while_feeding_flat_out": round(delivered_feeding),
        "delivered_per_s_draining": round(delivered_draining),
        "delivered_per_s_end_to_end": round(end_to_end),
        "drain_seconds": round(done["drain_s"], 2),
        "delivered_total": done["delivered"],
        "buffered_at_end": done["buffered"],
        "cpu_percent_of_one_core_feeding": round(feed_cpu, 1),
        "cpu_percent_of_one_core_draining": round(drain_cpu, 1),
        **rss_summary(samples),
        "rss_mib_peak": round(max(rss for _, rss in samples) / MIB, 1),
        "uplink": done["uplink"],
        "accounting": done["accounting"],
        "checks": checks,
    }


def main() -> int:
    """Parse arguments; run as the parent (default) or as the measured child."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="feed flat out this long")
    parser.add_argument("--drain", type=float, default=30.0, help="most time to drain after")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--child", nargs=2, metavar=("BROKER_URL", "BUFFER_PATH"))
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(*args.child, seconds=args.seconds, drain=args.drain))
        return 0
    measured = run(args.seconds, args.drain, args.db)
    result = {
        "benchmark": "pipeline",
        "interpreter": sys.executable,
        "python": sys.version.split()[0],
        "fleet_db": args.db,
        "channels": DEVICES * CHANNELS,
        "chunk": CHUNK,
        **measured,
        "targets": TARGETS,
        "meets_targets": all(measured["checks"].values()),
    }
    write_result("pipeline", result)
    return 0 if result["meets_targets"] else 1


if __name__ == "__main__":
    sys.exit(main())
