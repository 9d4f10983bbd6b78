"""Models of over-the-air configuration: layers, group membership, per-device desired and
reported state, rollouts with their devices, and the audit trail of config actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from fleet.db.models import Base, BigIntId, UtcDateTime


class ConfigLayer(Base):
    """One immutable revision of a config layer: fleet defaults, a group, or one device."""

    __tablename__ = "config_layer"
    __table_args__ = (
        UniqueConstraint("scope", "target", "revision", name="uq_config_layer_revision"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(16))
    """fleet, group or device."""
    target: Mapped[str] = mapped_column(String(200))
    """'' for fleet, a group path (city/district/street) or a device id."""
    revision: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeviceMembership(Base):
    """Which group a device belongs to for config layering, and its rollout tags."""

    __tablename__ = "device_membership"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_path: Mapped[str] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeviceConfig(Base):
    """What the fleet wants a device to run (signed, retained on the broker) and what it runs."""

    __tablename__ = "device_config"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    desired_version: Mapped[int] = mapped_column(Integer)
    desired_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    desired_envelope: Mapped[bytes] = mapped_column(LargeBinary)
    desired_rollback: Mapped[bool] = mapped_column(Boolean)
    desired_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rollout_id: Mapped[int | None] = mapped_column(BigIntId)
    applied_version: Mapped[int] = mapped_column(Integer)
    """The newest version the device reported applied (0: its local bundle config)."""
    applied_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reported_version: Mapped[int | None] = mapped_column(Integer)
    reported_status: Mapped[str | None] = mapped_column(String(16))
    reported_reason: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Rollout(Base):
    """A staged rollout of one config version to a target; its state survives restarts."""

    __tablename__ = "rollout"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, unique=True)
    state: Mapped[str] = mapped_column(String(16))
    """running, paused, completed, aborted."""
    target: Mapped[dict[str, Any]] = mapped_column(JSON)
    stages: Mapped[list[float]] = mapped_column(JSON)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    current_stage: Mapped[int] = mapped_column(Integer)
    stage_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    """Why it is paused or aborted."""
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RolloutDevice(Base):
    """One device of a rollout: its stage, the config it gets, what it had before, progress."""

    __tablename__ = "rollout_device"
    __table_args__ = (Index("ix_rollout_device_status", "rollout_id", "status"),)

    rollout_id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    """pending, sent, applied, healthy, failed, reverting, reverted, cancelled."""
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    previous_version: Mapped[int] = mapped_column(Integer)
    previous_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    healthy_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(Text)


class ConfigAudit(Base):
    """Who did what to configs and rollouts, when, and how it ended (engine actions too)."""

    __tablename__ = "config_audit"
    __table_args__ = (Index("ix_config_audit_at", "at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
