"""Synchronous SQLite operations on the buffer; used only by the buffer's worker thread.

`state` mirrors the committed database (counters, depth, sizes) so stats never query it.
Every change happens inside `transaction()`: counter deltas are written in the same
transaction as the batch rows they describe, and a rollback reloads the mirror.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from edge.accounting import Counts
from edge.buffer.schema import DISK_FULL_EVENTS, connect
from edge.buffer.types import BufferedBatch

_ROW_OVERHEAD = 64
"""Approximate bytes a batch row costs beyond its payload (record header, index entries)."""
_BOUND_ROUNDS = 64

_OLDEST_UNSENT = "SELECT id FROM batch WHERE sent_at IS NULL ORDER BY id LIMIT ?"
_NEWEST_UNSENT = "SELECT id FROM batch WHERE sent_at IS NULL ORDER BY id DESC LIMIT ?"

_INSERT_WIDTH = 6
_INSERT_ROWS = 128
"""Most rows per INSERT statement: 768 parameters, under SQLite's oldest limit of 999."""

DeletedRow = tuple[int, int, int]
"""(n_readings, n_bytes, was_in_flight) of a deleted batch."""


@dataclass(kw_only=True, slots=True)
class StoreState:
    """The committed contents of the buffer, in numbers."""

    counts: Counts = field(default_factory=Counts)
    batches: int = 0
    readings: int = 0
    payload_bytes: int = 0
    unsent: int = 0
    inflight: int = 0
    oldest_created: float | None = None
    disk_full_events: int = 0

    def copy(self) -> StoreState:
        """An independent copy to publish to other threads."""
        return StoreState(
            counts=self.counts.copy(),
            batches=self.batches,
            readings=self.readings,
            payload_bytes=self.payload_bytes,
            unsent=self.unsent,
            inflight=self.inflight,
            oldest_created=self.oldest_created,
            disk_full_events=self.disk_full_events,
        )


def load_state(conn: sqlite3.Connection) -> StoreState:
    """Read the counters and the depth from the database (at open and after a rollback)."""
    batches, readings, payload, inflight = conn.execute(
        "SELECT count(*), coalesce(sum(n_readings), 0), coalesce(sum(n_bytes), 0),"
        " coalesce(sum(sent_at IS NOT NULL), 0) FROM batch"
    ).fetchone()
    values = dict(conn.execute("SELECT name, value FROM counter").fetchall())
    oldest = conn.execute("SELECT created FROM batch ORDER BY id LIMIT 1").fetchone()
    return StoreState(
        counts=Counts.of(values),
        batches=batches,
        readings=readings,
        payload_bytes=payload,
        unsent=batches - inflight,
        inflight=inflight,
        oldest_created=None if oldest is None else oldest[0],
        disk_full_events=int(values.get(DISK_FULL_EVENTS, 0)),
    )


@functools.cache
def _insert_sql(rows: int) -> str:
    """INSERT of `rows` batches (only placeholders are generated, never values)."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows)
    columns = "boot_id, seq, created, n_readings, n_bytes, payload"
    return f"INSERT INTO batch ({columns}) VALUES {values}"  # noqa: S608 - placeholders only


class BatchStore:
    """The buffer's tables behind a small transactional API."""

    def __init__(self, conn: sqlite3.Connection, *, max_bytes: int) -> None:
        self._conn = conn
        self._max_bytes = max_bytes
        self._delta = Counts()
        self._full_events = 0
        self._backlog_turn = 0
        self.state = load_state(conn)

    @classmethod
    def open(
        cls,
        path: str,
        *,
        max_bytes: int,
        synchronous: Literal["normal", "full"],
        hard_limit_bytes: int | None = None,
    ) -> BatchStore:
        """Open the database; batches in flight when the agent stopped become unsent."""
        page_count = None if hard_limit_bytes is None else max(hard_limit_bytes // 4096, 8)
        conn = connect(path, synchronous=synchronous, max_page_count=page_count)
        conn.execute("UPDATE batch SET sent_at = NULL WHERE sent_at IS NOT NULL")
        return cls(conn, max_bytes=max_bytes)

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; counter deltas are persisted with the rows they describe."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._flush_counters()
            self._conn.execute("COMMIT")
        except BaseException:
            self._delta = Counts()
            self._full_events = 0
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self.state = load_state(self._conn)
            raise
        self.state.counts.add(self._delta.take())
        self.state.disk_full_events += self._full_events
        self._full_events = 0
        row = self._conn.execute("SELECT created FROM batch ORDER BY id LIMIT 1").fetchone()
        self.state.oldest_created = None if row is None else row[0]

    def add_counts(self, counts: Counts) -> None:
        """Count readings (in this transaction)."""
        self._delta.add(counts)

    def note_disk_full(self) -> None:
        """Count one disk-full event (in this transaction)."""
        self._full_events += 1

    def insert(self, batches: Iterable[BufferedBatch]) -> None:
        """Store new unsent batches."""
        state = self.state
        rows: list[object] = []
        for batch in batches:
            size = len(batch.payload)
            rows += (batch.boot_id, batch.seq, batch.created, batch.n_readings, size, batch.payload)
            state.batches += 1
            state.readings += batch.n_readings
            state.payload_bytes += size
            state.unsent += 1
        # Multi-row INSERTs: each statement is one step, i.e. one release and re-acquire of the
        # GIL on this thread. Row by row, a busy event loop (which gives the GIL up only every
        # switch interval, 5 ms) would hold each row up, and appends would pile up in memory.
        # Chunks are powers of two, so sqlite3 caches at most a handful of prepared statements.
        first, total = 0, len(rows) // _INSERT_WIDTH
        while first < total:
            count = min(_INSERT_ROWS, 1 << ((total - first).bit_length() - 1))
            chunk = rows[first * _INSERT_WIDTH : (first + count) * _INSERT_WIDTH]
            self._conn.execute(_insert_sql(count), chunk)
            first += count

    def used_bytes(self) -> int:
        """Bytes of the database file in use (free pages are reused, so they do not count)."""
        page_size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * page_size)

    def enforce_bound(self) -> int:
        """Delete the oldest batches until the database is under max_bytes; returns how many."""
        dropped = 0
        for _ in range(_BOUND_ROUNDS):
            excess = self.used_bytes() - self._max_bytes
            if excess <= 0 or not self.state.batches:
                break
            # Free a little more than needed so a full buffer drops in chunks, not every commit.
            dropped += self.drop_oldest(excess + self._max_bytes // 64)
        return dropped

    def drop_oldest(self, n_bytes: int) -> int:
        """Delete the oldest batches holding about n_bytes, counted as dropped_buffer_full."""
        last_id = None
        freed = 0
        for row_id, size in self._conn.execute("SELECT id, n_bytes FROM batch ORDER BY id"):
            last_id = row_id
            freed += size + _ROW_OVERHEAD
            if freed >= n_bytes:
                break
        if last_id is None:
            return 0
        rows = self._conn.execute(
            "DELETE FROM batch WHERE id <= ? RETURNING n_readings, n_bytes, sent_at IS NOT NULL",
            (last_id,),
        ).fetchall()
        self._delta.dropped_buffer_full += self._forget(rows)
        return len(rows)

    def take_unsent(self, limit: int, *, now: float) -> list[BufferedBatch]:
        """Mark up to `limit` unsent batches in flight: oldest backlog interleaved with newest."""
        if limit <= 0:
            return []
        oldest = [row[0] for row in self._conn.execute(_OLDEST_UNSENT, (limit,))]
        newest = [row[0] for row in self._conn.execute(_NEWEST_UNSENT, (limit,))]
        picked: list[int] = []
        seen: set[int] = set()
        ends = (iter(oldest), iter(newest))
        while len(picked) < limit:
            # The side to start from persists across calls, so taking one batch at a time
            # still alternates between backlog and live data instead of starving one.
            row_id = next(ends[self._backlog_turn], None)
            self._backlog_turn ^= 1
            if row_id is None:
                row_id = next(ends[self._backlog_turn], None)
                if row_id is None:
                    break
            if row_id in seen:
                break  # the two ends met: everything unsent is picked
            seen.add(row_id)
            picked.append(row_id)
        batches: list[BufferedBatch] = []
        for row_id in picked:
            boot_id, seq, created, n_readings, payload = self._conn.execute(
                "SELECT boot_id, seq, created, n_readings, payload FROM batch WHERE id = ?",
                (row_id,),
            ).fetchone()
            batches.append(
                BufferedBatch(
                    boot_id=boot_id,
                    seq=seq,
                    created=created,
                    n_readings=n_readings,
                    payload=bytes(payload),
                )
            )
        self._conn.executemany(
            "UPDATE batch SET sent_at = ? WHERE id = ?", [(now, row_id) for row_id in picked]
        )
        self.state.unsent -= len(picked)
        self.state.inflight += len(picked)
        return batches

    def requeue(self, keys: Sequence[tuple[str, int]]) -> int:
        """Make these in-flight batches unsent again; returns how many were in flight."""
        moved = 0
        for boot_id, seq in keys:
            moved += self._conn.execute(
                "UPDATE batch SET sent_at = NULL"
                " WHERE boot_id = ? AND seq = ? AND sent_at IS NOT NULL",
                (boot_id, seq),
            ).rowcount
        self.state.unsent += moved
        self.state.inflight -= moved
        return moved

    def requeue_inflight(self) -> int:
        """Make every in-flight batch unsent again; returns how many."""
        moved = self._conn.execute(
            "UPDATE batch SET sent_at = NULL WHERE sent_at IS NOT NULL"
        ).rowcount
        self.state.unsent += moved
        self.state.inflight -= moved
        return moved

    def acknowledge(self, boot_id: str, ranges: Sequence[tuple[int, int]]) -> int:
        """Delete exactly the acked batches (inclusive seq ranges); returns their readings."""
        delivered = 0
        for first, last in ranges:
            rows = self._conn.execute(
                "DELETE FROM batch WHERE boot_id = ? AND seq BETWEEN ? AND ?"
                " RETURNING n_readings, n_bytes, sent_at IS NOT NULL",
                (boot_id, first, last),
            ).fetchall()
            delivered += self._forget(rows)
        self._delta.delivered += delivered
        return delivered

    def last_seqs(self) -> dict[str, int]:
        """The highest stored seq per boot id (so a reused boot id cannot collide)."""
        rows = self._conn.execute("SELECT boot_id, max(seq) FROM batch GROUP BY boot_id")
        return dict(rows.fetchall())

    def _forget(self, rows: Sequence[DeletedRow]) -> int:
        state = self.state
        readings = 0
        for n_readings, size, in_flight in rows:
            readings += n_readings
            state.batches -= 1
            state.readings -= n_readings
            state.payload_bytes -= size
            if in_flight:
                state.inflight -= 1
            else:
                state.unsent -= 1
        return readings

    def _flush_counters(self) -> None:
        changes = [(value, name) for name, value in self._delta.items() if value]
        if self._full_events:
            changes.append((self._full_events, DISK_FULL_EVENTS))
        if changes:
            self._conn.executemany("UPDATE counter SET value = value + ? WHERE name = ?", changes)
