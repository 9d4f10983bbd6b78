"""The store-and-forward buffer: encoded batches in SQLite (WAL), bounded, deleted on ack."""

from __future__ import annotations

from edge.buffer.core import Buffer
from edge.buffer.status import read_buffer_status
from edge.buffer.types import BufferedBatch, BufferHealth, BufferStats, BufferStatus

__all__ = [
    "Buffer",
    "BufferHealth",
    "BufferStats",
    "BufferStatus",
    "BufferedBatch",
    "read_buffer_status",
]
