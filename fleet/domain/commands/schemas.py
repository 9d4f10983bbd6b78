"""Command and schedule API schemas (msgspec)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from fleet.domain.claims.schemas import GroupPath

Name = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Clock = Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["01:00"])]
Value = Annotated[float, Meta(ge=-1e9, le=1e9)] | bool


class CommandCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A command to one gateway (`device_id`) or every gateway of a group (`group`)."""

    kind: Literal["write", "reread", "reboot"]
    device_id: Annotated[str, Meta(pattern=r"^[a-z0-9-]{1,64}$")] | None = None
    group: GroupPath | None = None
    sensor: Name | None = None
    """The sensor's name on the gateway (e.g. lamp); None: every sensor with `point`."""
    point: Name | None = None
    value: Value | None = None
    timeout_s: Annotated[float, Meta(ge=1, le=3600)] = 30.0


class Command(msgspec.Struct, kw_only=True):
    """One gateway's part of a command and how it ended."""

    id: str
    batch_id: str
    device_id: str
    kind: str
    sensor: str | None
    point: str | None
    value: float | None
    status: str
    """pending, done, failed (with reason) or timed_out."""
    reason: str | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None


class CommandBatch(msgspec.Struct, kw_only=True):
    """Every gateway's part of one command."""

    batch_id: str
    items: list[Command]


class ScheduleCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Set `point` to `value` at `start` and (optionally) to `end_value` at `end`, every day."""

    name: Annotated[str, Meta(min_length=1, max_length=100)]
    group: GroupPath
    point: Name
    value: Annotated[float, Meta(ge=-1e9, le=1e9)]
    start: Clock
    end: Clock
    sensor: Name | None = None
    end_value: Annotated[float, Meta(ge=-1e9, le=1e9)] | None = None
    timezone: Annotated[str, Meta(max_length=64)] = "UTC"


class Schedule(msgspec.Struct, kw_only=True):
    """A stored schedule and the last windows it started and ended."""

    id: int
    name: str
    group: str
    sensor: str | None
    point: str
    value: float
    end_value: float | None
    start: str
    end: str
    timezone: str
    enabled: bool
    started_on: str | None
    ended_on: str | None
