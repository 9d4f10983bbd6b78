"""The buffer's SQLite schema and connection settings."""

from __future__ import annotations

import sqlite3
from typing import Final, Literal

from edge.accounting import COUNTER_NAMES

SCHEMA_VERSION: Final = 1
DISK_FULL_EVENTS: Final = "disk_full_events"
"""A counter row next to the reading counters (not part of the accounting equation)."""
WAL_LIMIT_BYTES: Final = 4 * 1024 * 1024
"""The WAL is truncated back to this after a checkpoint, so it cannot eat the disk."""
CACHE_KIB: Final = 256
"""SQLite's page cache per connection (its default, 2 MiB, is a sixteenth of the agent's RSS
budget). The buffer appends at the tail and takes from both ends of an indexed queue, so a
small cache costs no measurable throughput; the OS page cache holds the rest."""

_DDL: Final = (
    # One row per encoded batch: 40 batches/s carry 20,000 readings/s.
    # The rowid (id) is insertion order, i.e. age order.
    """CREATE TABLE IF NOT EXISTS batch (
        id INTEGER PRIMARY KEY,
        boot_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        created REAL NOT NULL,
        n_readings INTEGER NOT NULL,
        n_bytes INTEGER NOT NULL,
        payload BLOB NOT NULL,
        sent_at REAL,
        UNIQUE (boot_id, seq)
    )""",
    # The uplink picks from both ends of the unsent set; a partial index keeps that O(log n).
    "CREATE INDEX IF NOT EXISTS batch_unsent ON batch (id) WHERE sent_at IS NULL",
    "CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
    " WITHOUT ROWID",
)


class SchemaError(RuntimeError):
    """The database was written by an incompatible polekit version."""


def connect(
    path: str, *, synchronous: Literal["normal", "full"], max_page_count: int | None = None
) -> sqlite3.Connection:
    """Open (creating if needed) the buffer database for the single writer thread."""
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True, timeout=10.0)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    if max_page_count is not None:
        conn.execute(f"PRAGMA max_page_count = {int(max_page_count)}")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, SCHEMA_VERSION):
        conn.close()
        raise SchemaError(f"{path}: buffer schema version {version}, expected {SCHEMA_VERSION}")
    conn.execute("BEGIN IMMEDIATE")
    for statement in _DDL:
        conn.execute(statement)
    conn.executemany(
        "INSERT OR IGNORE INTO counter (name, value) VALUES (?, 0)",
        [(name,) for name in (*COUNTER_NAMES, DISK_FULL_EVENTS)],
    )
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute("COMMIT")
    return conn


def is_disk_full(exc: sqlite3.Error) -> bool:
    """True for SQLITE_FULL: the disk, or the hard limit (max_page_count), is full."""
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or (
        "database or disk is full" in str(exc)
    )
