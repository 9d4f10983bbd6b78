"""Read the buffer's counters and depth from another process, read-only.

`polekit agent status` uses this while the agent runs (WAL lets a reader see the last
commit without blocking the writer) and after it stopped.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from edge.accounting import AccountingSnapshot
from edge.buffer.core import stats_of
from edge.buffer.store import load_state
from edge.buffer.types import BufferStatus


def read_buffer_status(path: str | Path, *, now: float | None = None) -> BufferStatus:
    """Counters and depth as last committed; raises FileNotFoundError when there is no buffer."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no buffer database at {file}")
    conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA query_only = 1")
        # One read transaction, so counters and batches come from the same commit.
        conn.execute("BEGIN")
        state = load_state(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return BufferStatus(
        accounting=AccountingSnapshot.of(state.counts, buffered=state.readings, pending=0),
        stats=stats_of(state, path=str(file), now=time.time() if now is None else now),
        disk_full_events=state.disk_full_events,
    )
