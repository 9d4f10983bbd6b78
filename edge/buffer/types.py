"""Values the buffer hands in and out: batches, stats and health."""

from __future__ import annotations

import msgspec

from edge.accounting import AccountingSnapshot


class BufferedBatch(msgspec.Struct, frozen=True, kw_only=True):
    """One encoded telemetry batch as stored: the unit of buffering, sending and acking."""

    boot_id: str
    seq: int
    created: float
    """Unix time when the batch was closed."""
    n_readings: int
    payload: bytes


class BufferStats(msgspec.Struct, frozen=True, kw_only=True):
    """Depth and size of the committed buffer."""

    batches: int
    readings: int
    unsent: int
    """Batches waiting to be published."""
    inflight: int
    """Batches published and waiting for the fleet's ack."""
    payload_bytes: int
    bytes_on_disk: int
    """Database file plus its write-ahead log."""
    oldest_age: float | None
    """Seconds since the oldest buffered batch was closed; None when the buffer is empty."""


class BufferHealth(msgspec.Struct, frozen=True, kw_only=True):
    """Whether the buffer can still write; surfaced in the agent's health message."""

    disk_full: bool
    """The last write found the disk (or the hard limit) full and had to drop data."""
    disk_full_events: int
    last_error: str | None
    """The most recent write error (kept after recovery, for the status report)."""


class BufferStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What `polekit agent status` reads from the database of a running or stopped agent."""

    accounting: AccountingSnapshot
    """Committed counters; readings pending in a running agent's memory are not visible."""
    stats: BufferStats
    disk_full_events: int
