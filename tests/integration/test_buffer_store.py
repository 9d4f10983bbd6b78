"""The SQLite buffer on real files: ordering, acks, requeue, the byte bound, reopening."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from edge.accounting import Counts
from edge.buffer import Buffer, BufferedBatch, read_buffer_status
from edge.buffer.worker import MANY_PENDING

ROOT = Path(__file__).resolve().parents[2]
BOOT = "00000000aaaaaaaa"
OpenBuffer = Callable[..., Buffer]


def batch(seq: int, *, n: int = 5, size: int = 100, boot_id: str = BOOT) -> BufferedBatch:
    return BufferedBatch(
        boot_id=boot_id, seq=seq, created=1_000.0 + seq, n_readings=n, payload=bytes(size)
    )


def read(n: int) -> Counts:
    counts = Counts()
    counts.read = n
    return counts


def fill(buffer: Buffer, seqs: range, **kwargs: int) -> None:
    for seq in seqs:
        item = batch(seq, **kwargs)
        buffer.append(item, read(item.n_readings))


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "buffer.db")


@pytest.fixture
async def buffer(db_path: str) -> AsyncIterator[Buffer]:
    async with Buffer(path=db_path, max_bytes=1 << 20, commit_interval=0.01) as opened:
        yield opened


async def test_take_interleaves_oldest_backlog_with_newest(buffer: Buffer) -> None:
    fill(buffer, range(10))
    await buffer.flush()
    assert [b.seq for b in await buffer.take_unsent(4)] == [0, 9, 1, 8]
    # One at a time still alternates between the two ends.
    assert [b.seq for b in await buffer.take_unsent(1)] == [2]
    assert [b.seq for b in await buffer.take_unsent(1)] == [7]
    assert [b.seq for b in await buffer.take_unsent(10)] == [3, 6, 4, 5]
    assert await buffer.take_unsent(10) == []
    stats = buffer.stats()
    assert (stats.unsent, stats.inflight, stats.batches) == (0, 10, 10)


async def test_take_returns_payloads(buffer: Buffer) -> None:
    buffer.append(
        BufferedBatch(boot_id=BOOT, seq=0, created=5.0, n_readings=3, payload=b"abc"), read(3)
    )
    await buffer.flush()
    (taken,) = await buffer.take_unsent(5)
    assert taken == BufferedBatch(boot_id=BOOT, seq=0, created=5.0, n_readings=3, payload=b"abc")


async def test_ack_deletes_exactly_the_acked_ranges(buffer: Buffer) -> None:
    fill(buffer, range(10), n=7)
    other = "11111111bbbbbbbb"
    buffer.append(batch(4, boot_id=other), read(5))
    await buffer.flush()
    await buffer.take_unsent(11)
    assert await buffer.acknowledge(BOOT, [(0, 3), (5, 9)]) == 9 * 7
    assert await buffer.acknowledge(BOOT, [(0, 3)]) == 0  # a repeated ack changes nothing
    await buffer.requeue_inflight()
    left = await buffer.take_unsent(10)
    assert sorted((b.boot_id, b.seq) for b in left) == [(BOOT, 4), (other, 4)]
    snapshot = buffer.accounting()
    assert (snapshot.delivered, snapshot.buffered) == (63, 12)
    assert snapshot.is_balanced()


async def test_requeue_makes_in_flight_batches_unsent(buffer: Buffer) -> None:
    fill(buffer, range(6))
    await buffer.flush()
    taken = await buffer.take_unsent(4)
    await buffer.requeue([(BOOT, taken[0].seq), (BOOT, 99)])  # 99 does not exist
    assert (buffer.stats().unsent, buffer.stats().inflight) == (3, 3)
    assert [b.seq for b in await buffer.take_unsent(1)] == [taken[0].seq]
    await buffer.requeue_inflight()
    assert (buffer.stats().unsent, buffer.stats().inflight) == (6, 0)


async def test_bound_by_bytes_drops_the_oldest_and_counts_them(db_path: str) -> None:
    max_bytes = 256 * 1024
    async with Buffer(path=db_path, max_bytes=max_bytes, commit_interval=0.01) as buffer:
        for chunk in range(10):
            fill(buffer, range(chunk * 10, chunk * 10 + 10), n=20, size=8000)
            await buffer.flush()
        stats = buffer.stats()
        snapshot = buffer.accounting()
        taken = await buffer.take_unsent(100)
    assert stats.payload_bytes <= max_bytes
    assert 0 < stats.batches < 100
    assert snapshot.dropped_buffer_full == (100 - stats.batches) * 20
    assert snapshot.is_balanced()
    # What is left is the newest data, with no hole in it.
    assert sorted(b.seq for b in taken) == list(range(100 - stats.batches, 100))


async def test_reopen_keeps_batches_counters_and_requeues_in_flight(db_path: str) -> None:
    async with Buffer(path=db_path, max_bytes=1 << 20, commit_interval=60) as buffer:
        fill(buffer, range(5))
        await buffer.flush()
        await buffer.take_unsent(2)
        await buffer.acknowledge(BOOT, [(0, 0)])
        before = buffer.accounting()
        fill(buffer, range(5, 7))  # committed by close(), not by the 60 s interval
    async with Buffer(path=db_path, max_bytes=1 << 20) as buffer:
        after = buffer.accounting()
        stats = buffer.stats()
        with pytest.raises(ValueError, match="not above"):
            buffer.append(batch(6), read(5))
    assert (before.read, before.delivered, before.buffered) == (25, 5, 20)
    assert (after.read, after.delivered, after.buffered, after.pending) == (35, 5, 30, 0)
    assert (stats.batches, stats.unsent, stats.inflight) == (6, 6, 0)
    assert after.is_balanced()


async def test_appends_wait_for_the_commit_interval_unless_many(db_path: str) -> None:
    async with Buffer(path=db_path, max_bytes=1 << 20, commit_interval=60) as buffer:
        fill(buffer, range(3))
        await asyncio.sleep(0.05)
        assert buffer.stats().batches == 0
        assert buffer.accounting().pending == 15
        assert buffer.accounting().is_balanced()
        fill(buffer, range(3, MANY_PENDING))
        await asyncio.wait_for(buffer.wait_for_unsent(timeout=30), timeout=30)
        assert buffer.stats().batches == MANY_PENDING


async def test_wait_for_unsent_wakes_on_commit_and_times_out(buffer: Buffer) -> None:
    await buffer.wait_for_unsent(timeout=0.01)  # empty: returns after the timeout
    waiter = asyncio.create_task(buffer.wait_for_unsent(timeout=30))
    await asyncio.sleep(0.01)
    fill(buffer, range(1))
    await asyncio.wait_for(waiter, timeout=10)
    assert buffer.stats().unsent == 1


async def test_stats_report_depth_and_age(buffer: Buffer) -> None:
    assert buffer.stats().oldest_age is None
    fill(buffer, range(3), size=1000)
    await buffer.flush()
    stats = buffer.stats()
    assert (stats.batches, stats.readings, stats.payload_bytes) == (3, 15, 3000)
    assert stats.oldest_age is not None
    assert stats.oldest_age > 0  # created at t=1000 s, long ago
    assert stats.bytes_on_disk > 3000


async def test_status_is_readable_from_another_process(buffer: Buffer, db_path: str) -> None:
    fill(buffer, range(4))
    await buffer.flush()
    await buffer.acknowledge(BOOT, [(0, 0)])
    script = (
        "import json, sys, msgspec\n"
        "from edge.buffer import read_buffer_status\n"
        "print(msgspec.json.encode(read_buffer_status(sys.argv[1])).decode())\n"
    )
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script, db_path],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    status = json.loads(result.stdout)
    assert status["accounting"]["read"] == 20
    assert status["accounting"]["delivered"] == 5
    assert status["stats"]["batches"] == 3


def test_status_of_a_missing_buffer_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no buffer database"):
        read_buffer_status(tmp_path / "missing.db")


def test_tiny_bound_is_refused(db_path: str) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        Buffer(path=db_path, max_bytes=1000)
