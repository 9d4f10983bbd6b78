"""Benchmark: readings/s sustained through filters -> batcher -> encode -> durable buffer.

A synthetic gateway of 200 devices x 10 channels (a third with deadband + heartbeat, a tenth
with 30 s windows, a tenth with on_change and a range, the rest unfiltered) submits chunks of
100 readings as bus schedulers would, flat out, for a few seconds per SQLite synchronous mode.
The clock stops when everything is committed to the database. Also reported: the cost of the
filter path alone, of encoding, of creating the readings (included in the end-to-end rate),
process RSS, and that the accounting balances. Target: >= 20,000 readings/s end to end.
Prints one JSON object (last line) and writes tests/bench/results/buffer.json.

    python tests/bench/bench_buffer.py [--seconds 5] [--dir /var/lib/polekit]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from edge.accounting import AccountingSnapshot, Counts  # noqa: E402
from edge.batcher import BatchEncoder  # noqa: E402
from edge.buffer import Buffer, BufferedBatch  # noqa: E402
from edge.config import FilterSpec  # noqa: E402
from edge.filters import ChannelKey, ChannelPolicy  # noqa: E402
from edge.model import Reading  # noqa: E402
from edge.pipeline import Pipeline  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "buffer.json"
BOOT_ID = "0123456789abcdef"
DEVICES = 200
CHANNELS = 10
CHUNK = 100
TARGET = 20_000


def policies() -> dict[ChannelKey, ChannelPolicy]:
    """A realistic mix of channel policies (see the module docstring)."""
    table: dict[ChannelKey, ChannelPolicy] = {}
    for device in range(DEVICES):
        for channel in range(CHANNELS):
            key = (f"dev{device:03d}", f"ch{channel}")
            if channel < 3:
                specs = (FilterSpec(deadband=0.5), FilterSpec(heartbeat=300))
                table[key] = ChannelPolicy(range=(-1000, 1000), filters=specs)
            elif channel == 3:
                table[key] = ChannelPolicy(filters=(FilterSpec(window=30),))
            elif channel == 4:
                table[key] = ChannelPolicy(
                    range=(-1000, 1000), filters=(FilterSpec(on_change=True),)
                )
    return table


class ReadingSource:
    """Random-walk values for every channel, in poll order, at 1 ms per reading of wall time."""

    def __init__(self, *, start: float) -> None:
        rng = random.Random(7)
        self._keys = [(f"dev{d:03d}", f"ch{c}") for d in range(DEVICES) for c in range(CHANNELS)]
        self._values = [rng.uniform(0, 100) for _ in self._keys]
        self._steps = [rng.choice((-1.0, -0.25, 0.0, 0.0, 0.25, 1.0)) for _ in range(4093)]
        self._ts = start
        self._index = 0

    def chunks(self) -> Iterator[list[Reading]]:
        """Endless chunks of CHUNK readings."""
        keys, values, steps = self._keys, self._values, self._steps
        n_keys, n_steps = len(keys), len(steps)
        while True:
            chunk = []
            for _ in range(CHUNK):
                i = self._index % n_keys
                values[i] += steps[self._index % n_steps]
                self._index += 1
                self._ts += 0.001
                device, channel = keys[i]
                chunk.append(Reading(device, channel, round(values[i], 2), self._ts, "Cel"))
            yield chunk


class NullSink:
    """Takes batches and counts; keeps nothing (for the filter-only measurement)."""

    def __init__(self) -> None:
        self.counts = Counts()

    def append(self, batch: BufferedBatch | None, counts: Counts) -> None:
        self.counts.add(counts)

    def accounting(self) -> AccountingSnapshot:
        return AccountingSnapshot.of(self.counts, buffered=0, pending=0)


def time_source(n: int) -> float:
    """Microseconds per reading just to create the readings."""
    chunks = ReadingSource(start=1e9).chunks()
    started = time.perf_counter()
    for _ in range(n // CHUNK):
        next(chunks)
    return (time.perf_counter() - started) / n * 1e6


def time_filters(n: int) -> float:
    """Microseconds per reading for range check + filters + batching, without encoding."""
    source = ReadingSource(start=1e9).chunks()
    chunks = [next(source) for _ in range(n // CHUNK)]
    pipeline = Pipeline(
        sink=NullSink(), boot_id=BOOT_ID, policies=policies(), batch_max_readings=10**9
    )
    started = time.perf_counter()
    for chunk in chunks:
        pipeline.submit(chunk)
    return (time.perf_counter() - started) / n * 1e6


def time_encode(n: int) -> float:
    """Microseconds per reading to build SenML records and encode 500-reading CBOR batches."""
    source = ReadingSource(start=1e9).chunks()
    readings = [reading for _ in range(n // CHUNK) for reading in next(source)]
    encoder = BatchEncoder(boot_id=BOOT_ID, encoding="cbor")
    started = time.perf_counter()
    for seq, first in enumerate(range(0, len(readings), 500)):
        encoder.encode(readings[first : first + 500], seq=seq, created=0.0)
    return (time.perf_counter() - started) / n * 1e6


async def sustained(folder: Path, synchronous: str, seconds: float) -> dict[str, object]:
    """Flat-out end-to-end run; the clock stops when the last batch is committed."""
    path = folder / f"buffer-{synchronous}.db"
    process = psutil.Process()
    async with Buffer(
        path=str(path), max_bytes=256 << 20, commit_interval=0.2, synchronous=synchronous
    ) as buffer:
        pipeline = Pipeline(sink=buffer, boot_id=BOOT_ID, policies=policies())
        flusher = asyncio.create_task(pipeline.run(), name="pipeline-flush")
        chunks = ReadingSource(start=time.time()).chunks()
        started = time.perf_counter()
        cpu_started = process.cpu_times()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            pipeline.submit(next(chunks))
            await asyncio.sleep(0)  # let the flush loop and the buffer's wake-ups run
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        await buffer.flush()
        elapsed = time.perf_counter() - started
        cpu = process.cpu_times()
        snapshot = pipeline.accounting()
        stats = buffer.stats()
    cpu_seconds = (cpu.user + cpu.system) - (cpu_started.user + cpu_started.system)
    return {
        "synchronous": synchronous,
        "seconds": round(elapsed, 2),
        "readings_read": snapshot.read,
        "readings_per_s": round(snapshot.read / elapsed),
        "readings_into_buffer_per_s": round(snapshot.buffered / elapsed),
        "filtered_share": round(snapshot.filtered / max(snapshot.read, 1), 3),
        "batches_committed": stats.batches,
        "batches_per_s": round(stats.batches / elapsed, 1),
        "db_bytes": stats.bytes_on_disk,
        "cpu_percent_of_one_core": round(100 * cpu_seconds / elapsed),
        "pending_after_flush": snapshot.pending,
        "accounting_balanced": snapshot.is_balanced(),
        "rss_mib": round(process.memory_info().rss / 2**20, 1),
        "meets_target": snapshot.read / elapsed >= TARGET,
    }


async def paced(folder: Path, seconds: float) -> dict[str, object]:
    """The target rate (synchronous=full): how much of one core it costs, and that it keeps up."""
    path = folder / "buffer-paced.db"
    process = psutil.Process()
    async with Buffer(path=str(path), max_bytes=256 << 20, synchronous="full") as buffer:
        pipeline = Pipeline(sink=buffer, boot_id=BOOT_ID, policies=policies())
        flusher = asyncio.create_task(pipeline.run(), name="pipeline-flush")
        chunks = ReadingSource(start=time.time()).chunks()
        period = CHUNK / TARGET
        cpu_started = process.cpu_times()
        started = time.perf_counter()
        sent = 0
        while (now := time.perf_counter()) < started + seconds:
            due = started + sent * period
            if now < due:
                await asyncio.sleep(due - now)
            pipeline.submit(next(chunks))
            sent += 1
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        await buffer.flush()
        elapsed = time.perf_counter() - started
        cpu = process.cpu_times()
        snapshot = pipeline.accounting()
    cpu_seconds = (cpu.user + cpu.system) - (cpu_started.user + cpu_started.system)
    return {
        "synchronous": "full",
        "offered_readings_per_s": TARGET,
        "achieved_readings_per_s": round(snapshot.read / elapsed),
        "cpu_percent_of_one_core": round(100 * cpu_seconds / elapsed, 1),
        "accounting_balanced": snapshot.is_balanced(),
    }


async def run(seconds: float, folder: Path) -> dict[str, object]:
    """All measurements, as one JSON-able dict."""
    n = 200_000
    result: dict[str, object] = {
        "target_readings_per_s": TARGET,
        "channels": DEVICES * CHANNELS,
        "source_us_per_reading": round(time_source(n), 3),
        "filter_path_us_per_reading": round(time_filters(n), 3),
        "encode_us_per_reading": round(time_encode(n), 3),
    }
    flat_out = [await sustained(folder, mode, seconds) for mode in ("full", "normal")]
    result["sustained"] = flat_out
    result["at_target_rate"] = await paced(folder, min(seconds, 3.0))
    result["meets_target"] = all(mode["meets_target"] for mode in flat_out)
    result["rss_mib"] = round(psutil.Process().memory_info().rss / 2**20, 1)
    return result


def main() -> int:
    """Parse arguments, run, print JSON, write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="flat-out run per mode")
    parser.add_argument("--dir", type=Path, default=None, help="where the databases go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        result = asyncio.run(run(args.seconds, Path(folder)))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
