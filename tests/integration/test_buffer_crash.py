"""Fault injection on the buffer: SIGKILL mid-burst, and a full disk (via max_page_count)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edge.accounting import Counts
from edge.buffer import Buffer, BufferedBatch, read_buffer_status

ROOT = Path(__file__).resolve().parents[2]
BOOT = "00000000cccccccc"

# The child runs the real pipeline into the real buffer and prints every seq the buffer
# reports committed (on_commit runs after COMMIT returned), flushing each line.
CHILD = """
import asyncio, sys
from edge.buffer import Buffer
from edge.config import FilterSpec
from edge.filters import ChannelPolicy
from edge.model import Reading
from edge.pipeline import Pipeline

def committed(batches):
    if batches:
        sys.stdout.write(" ".join(str(b.seq) for b in batches) + "\\n")
        sys.stdout.flush()

async def main():
    policies = {("env", "pm2_5"): ChannelPolicy(range=(0, 900), filters=(FilterSpec(deadband=50),))}
    async with Buffer(path=sys.argv[1], max_bytes=64 << 20, commit_interval=0.005,
                      synchronous=sys.argv[2], on_commit=committed) as buffer:
        pipeline = Pipeline(sink=buffer, boot_id="00000000cccccccc", policies=policies,
                            batch_max_readings=50)
        ts = 1e9
        while True:
            readings = []
            for i in range(100):
                ts += 0.01
                readings.append(Reading(device="env", channel=("pm2_5", "temp")[i % 2],
                                        value=float(i * 10 % 1000), ts=ts))
            pipeline.submit(readings)
            await asyncio.sleep(0)

asyncio.run(main())
"""


@pytest.mark.slow
@pytest.mark.parametrize("synchronous", ["normal", "full"])
def test_sigkill_loses_no_committed_batch(tmp_path: Path, synchronous: str) -> None:
    path = str(tmp_path / "buffer.db")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, path, synchronous],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    reported: set[int] = set()
    try:
        assert child.stdout is not None
        for line in child.stdout:
            reported.update(int(seq) for seq in line.split())
            if len(reported) >= 300:
                break
        os.kill(child.pid, signal.SIGKILL)  # mid-burst: the child never stops appending
    finally:
        child.kill()
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, stderr
    assert len(reported) >= 300, stderr

    status = read_buffer_status(path)
    with sqlite3.connect(path) as conn:
        stored = {
            seq for (seq,) in conn.execute("SELECT seq FROM batch WHERE boot_id = ?", (BOOT,))
        }
    assert reported <= stored  # every committed batch survived
    assert stored == set(range(len(stored)))  # and nothing in between went missing
    assert status.accounting.is_balanced(), status.accounting
    assert status.accounting.read > 0
    assert status.accounting.filtered > 0
    assert status.accounting.out_of_range > 0


def _batch(seq: int, size: int) -> BufferedBatch:
    return BufferedBatch(
        boot_id=BOOT, seq=seq, created=float(seq), n_readings=10, payload=os.urandom(size)
    )


def _read(n: int) -> Counts:
    counts = Counts()
    counts.read = n
    return counts


async def test_full_disk_drops_oldest_counts_and_flags(tmp_path: Path) -> None:
    path = str(tmp_path / "buffer.db")
    # The soft bound is far away; the hard limit plays a full disk at ~400 KiB.
    async with Buffer(
        path=path, max_bytes=64 << 20, hard_limit_bytes=400 * 1024, commit_interval=0.01
    ) as buffer:
        for seq in range(120):
            buffer.append(_batch(seq, 16_000), _read(10))
            if seq % 10 == 9:
                await buffer.flush()
        await buffer.flush()
        health = buffer.health()
        snapshot = buffer.accounting()
        stats = buffer.stats()
        newest = await buffer.take_unsent(1)
    assert health.disk_full_events > 0
    assert snapshot.dropped_buffer_full > 0
    assert snapshot.read == 1200
    assert snapshot.is_balanced()
    assert 0 < stats.batches < 120
    assert [b.seq for b in newest] == [119 - stats.batches + 1]  # the oldest left is recent
    assert read_buffer_status(path).disk_full_events == health.disk_full_events


async def test_a_batch_bigger_than_the_disk_is_dropped_not_raised(tmp_path: Path) -> None:
    path = str(tmp_path / "buffer.db")
    async with Buffer(
        path=path, max_bytes=64 << 20, hard_limit_bytes=128 * 1024, commit_interval=0.01
    ) as buffer:
        buffer.append(_batch(0, 1_000_000), _read(10))
        await buffer.flush()
        assert buffer.health().disk_full
        buffer.append(_batch(1, 1_000), _read(10))
        await buffer.flush()
        assert not buffer.health().disk_full  # recovered once writes fit again
        snapshot = buffer.accounting()
    assert (snapshot.read, snapshot.dropped_buffer_full, snapshot.buffered) == (20, 10, 10)
    assert snapshot.is_balanced()
    reopened = read_buffer_status(path)
    assert reopened.accounting == snapshot
