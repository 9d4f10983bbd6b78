"""The store-and-forward buffer as the agent sees it: sync append, async everything else.

    async with Buffer.from_config(config.buffer) as buffer:
        buffer.append(batch, counts)              # pipeline, on the loop, never blocks
        batches = await buffer.take_unsent(16)    # uplink: now in flight
        await buffer.acknowledge(boot_id, [(0, 41)])  # fleet ack: deleted, counted delivered
        await buffer.requeue_inflight()           # after a reconnect

A batch is deleted only when acknowledged, or when the size bound (or a full disk) forces
the oldest out, which counts its readings as dropped_buffer_full.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Literal, Self, TypeVar

from edge.accounting import AccountingSnapshot, Counts
from edge.buffer.store import BatchStore, StoreState
from edge.buffer.types import BufferedBatch, BufferHealth, BufferStats
from edge.buffer.worker import BufferWorker, CommitListener, Pending
from edge.config import BufferConfig

T = TypeVar("T")
_MIN_BYTES = 64 * 1024


class Buffer:
    """Durable, bounded queue of encoded telemetry batches in SQLite (WAL)."""

    def __init__(
        self,
        *,
        path: str,
        max_bytes: int,
        commit_interval: float = 0.2,
        synchronous: Literal["normal", "full"] = "full",
        hard_limit_bytes: int | None = None,
        on_commit: CommitListener | None = None,
    ) -> None:
        if max_bytes < _MIN_BYTES:
            raise ValueError(f"buffer max_bytes must be at least {_MIN_BYTES}, got {max_bytes}")
        if commit_interval < 0:
            raise ValueError("buffer commit_interval cannot be negative")
        if synchronous not in ("normal", "full"):
            raise ValueError(f"buffer synchronous must be normal or full, got {synchronous!r}")
        self.path = path
        self._worker = BufferWorker(
            opener=lambda: BatchStore.open(
                path,
                max_bytes=max_bytes,
                synchronous=synchronous,
                hard_limit_bytes=hard_limit_bytes,
            ),
            commit_interval=commit_interval,
            on_commit=on_commit,
            on_change=self._wake_senders,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsent_event = asyncio.Event()
        self._last_seq: dict[str, int] = {}
        self._open = False

    @classmethod
    def from_config(
        cls, config: BufferConfig, *, on_commit: CommitListener | None = None
    ) -> Buffer:
        """A buffer as the agent config describes it."""
        return cls(
            path=config.path,
            max_bytes=int(config.max_bytes),
            commit_interval=float(config.commit_interval),
            synchronous=config.synchronous,
            on_commit=on_commit,
        )

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Start the worker thread and open (or create) the database."""
        self._loop = asyncio.get_running_loop()
        await asyncio.wrap_future(self._worker.start())
        self._last_seq = await self._call(lambda store: store.last_seqs())
        self._open = True

    async def close(self) -> None:
        """Commit everything appended so far and close the database."""
        if self._open:
            self._open = False
            # Shielded: a second cancel (another signal) must not cancel the worker's own
            # future, which it completes after its last commit.
            await asyncio.shield(asyncio.wrap_future(self._worker.stop()))

    def append(self, batch: BufferedBatch | None, counts: Counts) -> None:
        """Queue a batch (or counts alone) for the next commit; never blocks the loop.

        Call it from one thread (the event loop's); seqs must rise per boot id.
        """
        if batch is not None:
            last = self._last_seq.get(batch.boot_id, -1)
            if batch.seq <= last:
                raise ValueError(f"batch seq {batch.seq} is not above {last} for this boot id")
            self._last_seq[batch.boot_id] = batch.seq
        self._worker.append(Pending(batch=batch, counts=counts))

    async def flush(self) -> None:
        """Commit everything appended so far now, without waiting for the commit interval."""
        await self._call(lambda store: None)

    async def take_unsent(self, limit: int) -> list[BufferedBatch]:
        """Up to `limit` unsent batches, oldest backlog interleaved with newest; now in flight."""
        now = time.time()
        return await self._call(lambda store: store.take_unsent(limit, now=now))

    async def requeue(self, keys: Sequence[tuple[str, int]]) -> None:
        """Make these in-flight (boot_id, seq) batches unsent again (ack timeout)."""
        keys = list(keys)
        await self._call(lambda store: store.requeue(keys))

    async def requeue_inflight(self) -> None:
        """Make every in-flight batch unsent again (after a reconnect)."""
        await self._call(lambda store: store.requeue_inflight())

    async def acknowledge(self, boot_id: str, ranges: Sequence[tuple[int, int]]) -> int:
        """Delete exactly the acked batches (inclusive seq ranges); returns their readings."""
        ranges = [(int(first), int(last)) for first, last in ranges]
        return await self._call(lambda store: store.acknowledge(boot_id, ranges))

    async def wait_for_unsent(self, timeout: float) -> None:  # noqa: ASYNC109  # uplink protocol
        """Return when there are unsent batches, or after `timeout` seconds."""
        self._unsent_event.clear()
        if self._worker.view()[0].unsent > 0:
            return
        try:
            async with asyncio.timeout(timeout):
                await self._unsent_event.wait()
        except TimeoutError:
            return

    def stats(self) -> BufferStats:
        """Depth and size of what is committed (no database query)."""
        state = self._worker.view()[0]
        return stats_of(state, path=self.path, now=time.time())

    def health(self) -> BufferHealth:
        """Whether writes are succeeding; disk_full is set while writes need to drop data."""
        state, _, _, disk_full, last_error = self._worker.view()
        return BufferHealth(
            disk_full=disk_full,
            disk_full_events=state.disk_full_events,
            last_error=last_error,
        )

    def accounting(self) -> AccountingSnapshot:
        """Committed plus queued counts; `pending` is readings appended but not yet committed."""
        state, queued, queued_readings, _, _ = self._worker.view()
        counts = state.counts.copy()
        counts.add(queued)
        return AccountingSnapshot.of(counts, buffered=state.readings, pending=queued_readings)

    async def _call(self, run: Callable[[BatchStore], T]) -> T:
        future: Future[T] = self._worker.submit(run)
        return await asyncio.wrap_future(future)

    def _wake_senders(self) -> None:
        # Called on the worker thread after each transaction.
        loop = self._loop
        if loop is not None and self._worker.view()[0].unsent > 0:
            with contextlib.suppress(RuntimeError):  # the loop is closed; nobody waits
                loop.call_soon_threadsafe(self._unsent_event.set)


def file_bytes(path: str) -> int:
    """Bytes the database takes on disk: main file plus write-ahead log."""
    total = 0
    for name in (path, f"{path}-wal"):
        try:
            total += os.stat(name).st_size
        except FileNotFoundError:
            continue
    return total


def stats_of(state: StoreState, *, path: str, now: float) -> BufferStats:
    """Stats from a committed state and the files on disk."""
    return BufferStats(
        batches=state.batches,
        readings=state.readings,
        unsent=state.unsent,
        inflight=state.inflight,
        payload_bytes=state.payload_bytes,
        bytes_on_disk=file_bytes(path),
        oldest_age=None if state.oldest_created is None else max(now - state.oldest_created, 0.0),
    )
