"""Fleet-wide health views (msgspec)."""

from __future__ import annotations

import msgspec


class GroupCounts(msgspec.Struct, kw_only=True):
    """Gateways of one district or street by status, with their trouble counts."""

    district: str
    street: str | None
    """None on a district's total row."""
    total: int = 0
    online: int = 0
    offline: int = 0
    unknown: int = 0
    stale_sensors: int = 0
    growing_buffers: int = 0


class FleetSummary(msgspec.Struct, kw_only=True):
    """The whole visible fleet, then per district and per street."""

    total: int
    online: int
    offline: int
    unknown: int
    districts: list[GroupCounts]
    streets: list[GroupCounts]


class StaleSensor(msgspec.Struct, kw_only=True):
    """A sensor whose last reading is older than the threshold (as of now, not as of the beat)."""

    device_id: str
    bus: str
    sensor: str
    online: bool
    age_s: float | None
    """None: it never produced a reading."""
    last_error: str | None = None
    district: str | None = None
    street: str | None = None


class GrowingBuffer(msgspec.Struct, kw_only=True):
    """A gateway whose backlog is not draining: its oldest buffered reading keeps ageing."""

    device_id: str
    buffer_batches: int
    buffer_bytes: int
    buffer_oldest_age_s: float
    buffer_fill: float | None
    """buffer_bytes / buffer_max_bytes when the agent reports its cap."""
    status: str
