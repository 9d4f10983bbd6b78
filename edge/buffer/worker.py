"""The buffer's one worker thread: every SQLite call happens here, never on the event loop.

Appends from the pipeline queue up in memory and are committed together, once per
`commit_interval` (or sooner when many are waiting), in one transaction with the counter
deltas they carry. Other operations are jobs run in order, each in its own transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from edge.accounting import Counts
from edge.buffer.schema import is_disk_full
from edge.buffer.store import BatchStore, StoreState
from edge.buffer.types import BufferedBatch

log = logging.getLogger(__name__)

T = TypeVar("T")
StoreOpener = Callable[[], BatchStore]
CommitListener = Callable[[Sequence[BufferedBatch]], None]

MANY_PENDING: Final = 64
"""Commit before the interval is up once this many appends wait (bounds memory and loss)."""
_ERROR_RETRY: Final = 1.0


@dataclass(slots=True)
class Pending:
    """One append: a batch (or None for counts alone) and the counts it settles."""

    batch: BufferedBatch | None
    counts: Counts


@dataclass(slots=True)
class _Job:
    run: Callable[[BatchStore], Any]
    future: Future[Any]


class BufferWorker:
    """Owns the SQLite connection; publishes a consistent view for other threads."""

    def __init__(
        self,
        *,
        opener: StoreOpener,
        commit_interval: float,
        on_commit: CommitListener | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._opener = opener
        self._interval = commit_interval
        self._on_commit = on_commit
        self._on_change = on_change
        self._cond = threading.Condition()
        self._pending: list[Pending] = []
        self._first_pending_at = 0.0
        self._jobs: deque[_Job] = deque()
        self._stopping = False
        self._stopped: Future[None] = Future()
        self._opened: Future[None] = Future()
        # What other threads read; replaced (under _cond) after every transaction.
        self._state = StoreState()
        self._queued = Counts()
        self._queued_readings = 0
        self._disk_full = False
        self._last_error: str | None = None
        self._thread = threading.Thread(target=self._main, name="polekit-buffer", daemon=True)

    def start(self) -> Future[None]:
        """Start the thread; the future completes once the database is open."""
        self._thread.start()
        return self._opened

    def stop(self) -> Future[None]:
        """Commit what is queued, close the database and end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        return self._stopped

    def append(self, item: Pending) -> None:
        """Queue an append; never blocks on SQLite (called from the event loop)."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("the buffer is closed")
            if not self._pending:
                self._first_pending_at = time.monotonic()
            self._pending.append(item)
            self._queued.add(item.counts)
            if item.batch is not None:
                self._queued_readings += item.batch.n_readings
            self._cond.notify()

    def submit(self, run: Callable[[BatchStore], T]) -> Future[T]:
        """Run `run(store)` in a transaction on the worker thread, after queued appends."""
        future: Future[T] = Future()
        with self._cond:
            if self._stopping:
                raise RuntimeError("the buffer is closed")
            self._jobs.append(_Job(run=run, future=future))
            self._cond.notify()
        return future

    def view(self) -> tuple[StoreState, Counts, int, bool, str | None]:
        """(committed state, queued counts, queued readings, disk_full, last error), atomically."""
        with self._cond:
            return (
                self._state,
                self._queued.copy(),
                self._queued_readings,
                self._disk_full,
                self._last_error,
            )

    def _main(self) -> None:
        try:
            store = self._opener()
        except BaseException as exc:
            self._opened.set_exception(exc)
            self._stopped.set_result(None)
            return
        self._publish(store, done=())
        self._opened.set_result(None)
        try:
            self._serve(store)
        except BaseException as exc:
            log.exception("buffer: the worker thread failed; the buffer is closed")
            self._fail_waiting(exc)
        finally:
            store.close()
            self._stopped.set_result(None)

    def _fail_waiting(self, exc: BaseException) -> None:
        # Nobody may wait forever on a thread that is gone.
        with self._cond:
            self._stopping = True
            self._last_error = f"{type(exc).__name__}: {exc}"
            jobs = list(self._jobs)
            self._jobs.clear()
        for job in jobs:
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(RuntimeError("the buffer worker thread failed"))

    def _serve(self, store: BatchStore) -> None:
        retry_at = 0.0
        while True:
            with self._cond:
                while not (self._jobs or self._stopping or self._commit_due(retry_at)):
                    self._cond.wait(self._wait_time(retry_at))
                items, self._pending = self._pending, []
                jobs = list(self._jobs)
                self._jobs.clear()
                stopping = self._stopping and not jobs
            committed = not items or self._commit(store, items)
            if not committed:
                retry_at = time.monotonic() + _ERROR_RETRY
            for job in jobs:
                self._run_job(store, job)
            if stopping:
                with self._cond:
                    if not self._pending:
                        return
                    if not committed:
                        log.error("buffer: closing with %d uncommitted batches", len(items))
                        return

    def _commit_due(self, retry_at: float) -> bool:
        if not self._pending:
            return False
        now = time.monotonic()
        if now < retry_at:
            return False
        return len(self._pending) >= MANY_PENDING or now >= self._first_pending_at + self._interval

    def _wait_time(self, retry_at: float) -> float | None:
        if not self._pending:
            return None
        due = max(self._first_pending_at + self._interval, retry_at)
        return max(due - time.monotonic(), 0.0)

    def _commit(self, store: BatchStore, items: list[Pending]) -> bool:
        """Commit appends; False (items requeued) when SQLite failed for a non-space reason."""
        try:
            try:
                self._write(store, items)
                full = False
            except sqlite3.OperationalError as exc:
                if not is_disk_full(exc):
                    raise
                full = True
                # A copy: dropping rewrites items, the queued view must subtract the originals.
                self._write_when_full(store, list(items))
        except sqlite3.Error as exc:
            log.exception("buffer: cannot write the database; retrying")
            with self._cond:
                self._pending[:0] = items
                self._last_error = f"{type(exc).__name__}: {exc}"
            return False
        with self._cond:
            self._disk_full = full
        self._publish(store, done=items)
        if self._on_commit is not None:
            self._on_commit([item.batch for item in items if item.batch is not None])
        return True

    def _write(self, store: BatchStore, items: Sequence[Pending]) -> None:
        with store.transaction():
            for item in items:
                store.add_counts(item.counts)
            store.insert(item.batch for item in items if item.batch is not None)
            store.enforce_bound()

    def _write_when_full(self, store: BatchStore, items: list[Pending]) -> None:
        """Make room by dropping the oldest batches, then the new ones; never raise SQLITE_FULL."""
        log.warning("buffer: disk full; dropping the oldest batches to make room")
        needed = sum(len(item.batch.payload) for item in items if item.batch is not None)
        attempt = 0
        while True:
            attempt += 1
            try:
                with store.transaction():
                    store.note_disk_full()
                    if store.state.batches:
                        store.drop_oldest(max(needed, 4096) << attempt)
                    else:
                        _drop_new_batches(items)
                    for item in items:
                        store.add_counts(item.counts)
                    store.insert(item.batch for item in items if item.batch is not None)
                    store.enforce_bound()
            except sqlite3.OperationalError as exc:
                if not is_disk_full(exc) or all(item.batch is None for item in items):
                    raise
            else:
                return

    def _run_job(self, store: BatchStore, job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            with store.transaction():
                result = job.run(store)
        except BaseException as exc:
            self._publish(store, done=())
            job.future.set_exception(exc)
        else:
            # Publish first: a caller woken by the result must see its own change in stats().
            self._publish(store, done=())
            job.future.set_result(result)

    def _publish(self, store: BatchStore, *, done: Sequence[Pending]) -> None:
        with self._cond:
            self._state = store.state.copy()
            for item in done:
                for name, value in item.counts.items():
                    setattr(self._queued, name, getattr(self._queued, name) - value)
                if item.batch is not None:
                    self._queued_readings -= item.batch.n_readings
        if self._on_change is not None:
            self._on_change()


def _drop_new_batches(items: list[Pending]) -> None:
    """Nothing old is left to delete: count the new batches as dropped instead of storing them."""
    for index, item in enumerate(items):
        if item.batch is not None:
            counts = item.counts.copy()
            counts.dropped_buffer_full += item.batch.n_readings
            items[index] = Pending(batch=None, counts=counts)
