"""Health endpoint schema."""

from __future__ import annotations

import msgspec


class BridgeStatus(msgspec.Struct, kw_only=True):
    """The MQTT bridge's counters since start; `rejected` counts garbage per reason."""

    connected: bool
    connects: int
    disconnects: int
    messages: int
    batches_new: int
    batches_duplicate: int
    points: int
    states: int
    healths: int
    flushes: int
    acks_sent: int
    db_errors: int
    rejected: dict[str, int]


class HealthStatus(msgspec.Struct, kw_only=True):
    """`ok` when the database answers and the bridge (if running) is connected."""

    status: str
    database: bool
    bridge: BridgeStatus | None
