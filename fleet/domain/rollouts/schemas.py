"""Rollout API schemas (msgspec): RolloutCreate, Rollout with per-stage progress, preview."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from fleet.domain.configs.schemas import DeviceIdStr, GroupStr, TagStr

STATUSES = (
    "pending",
    "sent",
    "applied",
    "healthy",
    "rolled_back",
    "rejected",
    "reverting",
    "reverted",
    "cancelled",
)
"""A rollout device's status: sent = published, waiting for the device; rolled_back = the
device reverted itself after its health window; rejected = it refused the document."""
FAILED = ("rolled_back", "rejected")
TOUCHED = ("sent", "applied", "healthy", "rolled_back", "rejected")


class Target(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which devices: members of any group subtree, with any tag, or listed by id."""

    groups: list[GroupStr] = msgspec.field(default_factory=list)
    tags: list[TagStr] = msgspec.field(default_factory=list)
    devices: list[DeviceIdStr] = msgspec.field(default_factory=list)


class Policy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How stages are gated."""

    health_window_s: Annotated[float, Meta(ge=0, le=86400)] = 60.0
    """A device counts once it applied and stayed healthy (online, heartbeating) this long."""
    success_threshold: Annotated[float, Meta(gt=0, le=1)] = 0.95
    """Share of a stage's devices that must be healthy before the next stage starts."""
    failure_threshold: Annotated[float, Meta(ge=0, le=1)] = 0.1
    """Share of a stage's devices failing (rolled back or rejected) that triggers on_failure."""
    on_failure: Literal["pause", "abort"] = "pause"
    straggler_timeout_s: Annotated[float, Meta(ge=0)] = 600.0
    """After this long in a stage, a device that has not answered is a straggler ..."""
    straggler_policy: Literal["wait", "skip"] = "skip"
    """... which `wait` keeps in the stage's count and `skip` leaves out (it still gets the
    config from the retained desired state when it reconnects, and counts once healthy)."""
    canary_compare: bool = True
    """Pause when the stage's devices heartbeat significantly worse than untouched ones."""


class RolloutCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Roll the current layers out to a target in stages (cumulative percentages)."""

    name: Annotated[str, Meta(min_length=1, max_length=100)]
    target: Target
    stages: Annotated[list[float], Meta(min_length=1, max_length=20)] = msgspec.field(
        default_factory=lambda: [1.0, 10.0, 50.0, 100.0]
    )
    policy: Policy = msgspec.field(default_factory=Policy)


class PreviewRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which devices to preview a rollout for."""

    target: Target


class Preview(msgspec.Struct, kw_only=True):
    """What a rollout would change, summed across devices."""

    devices: int
    changed: int
    lines: list[str]


class StageProgress(msgspec.Struct, kw_only=True):
    """Counts of one stage's devices by status."""

    index: int
    percent: float
    devices: int
    pending: int = 0
    sent: int = 0
    applied: int = 0
    healthy: int = 0
    rolled_back: int = 0
    rejected: int = 0
    reverting: int = 0
    reverted: int = 0
    cancelled: int = 0
    stragglers: int = 0


class Rollout(msgspec.Struct, kw_only=True):
    """A rollout with its progress."""

    id: int
    name: str
    version: int
    state: str
    reason: str | None
    target: Target
    policy: Policy
    current_stage: int
    stages: list[StageProgress]
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class DeviceProgress(msgspec.Struct, kw_only=True):
    """One device of a rollout."""

    device_id: str
    stage: int
    status: str
    previous_version: int
    reason: str | None
    applied_at: datetime | None
    healthy_at: datetime | None
