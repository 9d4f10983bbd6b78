"""Telemetry API schemas (msgspec)."""

from __future__ import annotations

import msgspec


class Point(msgspec.Struct, kw_only=True):
    """One stored SenML record; exactly one of value, string_value, bool_value is set."""

    channel: str
    """The SenML record name, `{sensor}/{channel}` on the gateway, e.g. "meter/voltage"."""
    ts: float
    """Unix time in seconds."""
    value: float | None = None
    string_value: str | None = None
    bool_value: bool | None = None
    unit: str | None = None


class LatestValues(msgspec.Struct, kw_only=True):
    """The newest point of every channel of one device, ordered by channel."""

    device_id: str
    channels: list[Point]


class TelemetryQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A validated time-series query (built by the controller from query parameters)."""

    device_id: str
    channel: str | None = None
    since: float | None = None
    """Inclusive lower bound, unix seconds."""
    until: float | None = None
    """Exclusive upper bound, unix seconds."""
    limit: int = 1000
    cursor: str | None = None


class TelemetryPage(msgspec.Struct, kw_only=True):
    """Points ordered by (ts, storage order); pass `next_cursor` back to get the next page."""

    device_id: str
    items: list[Point]
    next_cursor: str | None
    """None on the last page."""
