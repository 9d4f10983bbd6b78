"""Typed messages the bridge hands to the ingest service, and what a commit reports back."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import msgspec

from protocol.messages import ConfigReported, Health
from protocol.senml import TelemetryBatch


class BatchReceived(msgspec.Struct, frozen=True, kw_only=True):
    """A decoded telemetry batch from one device."""

    device_id: str
    batch: TelemetryBatch
    received_at: datetime


class StateReceived(msgspec.Struct, frozen=True, kw_only=True):
    """A device went online or offline (the offline one is usually its last will)."""

    device_id: str
    online: bool
    received_at: datetime
    retained: bool = False
    """A retained state may be old news: it must not move `last_seen`."""


class HealthReceived(msgspec.Struct, frozen=True, kw_only=True):
    """An agent heartbeat."""

    device_id: str
    health: Health
    received_at: datetime


class ConfigReportReceived(msgspec.Struct, frozen=True, kw_only=True):
    """A device's outcome of a desired config (retained: it comes again on every resubscribe)."""

    device_id: str
    report: ConfigReported
    received_at: datetime


Inbound = BatchReceived | StateReceived | HealthReceived | ConfigReportReceived


class BatchKey(NamedTuple):
    """The dedup key of a telemetry batch."""

    device_id: str
    boot_id: str
    seq: int


class IngestResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one transaction committed; `committed` includes batches that were already stored."""

    committed: list[BatchKey]
    new_batches: int
    duplicate_batches: int
    new_points: int
