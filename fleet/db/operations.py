"""Models of fleet operations: API keys, audit, alerts, webhooks, commands, schedules.

Secrets are stored as hashes (API keys) or kept out of every answer and log (webhook secrets,
which the fleet needs in clear to sign notifications).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Double, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from fleet.db.models import Base, BigIntId, UtcDateTime


class ApiKey(Base):
    """A bearer key with a role (viewer, operator, admin) over a subtree of city/district/street."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 hex of the whole key; the key itself is shown once, at creation."""
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(200))
    """A group path (e.g. chengdu/wuhou); the empty string is the whole fleet."""
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuditEntry(Base):
    """One mutating request: who, what, when, from where, and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(16))
    scope: Mapped[str | None] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    status: Mapped[int] = mapped_column(Integer)
    remote: Mapped[str | None] = mapped_column(String(64))


class AlertRule(Base):
    """A condition on telemetry or health that opens an alert, with hysteresis and a hold time."""

    __tablename__ = "alert_rule"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(24))
    """threshold, offline, buffer or sensor_silent."""
    channel: Mapped[str | None] = mapped_column(String(128))
    """threshold: a channel name (x_angle) or sensor/channel (tilt/x_angle)."""
    op: Mapped[str] = mapped_column(String(8))
    threshold: Mapped[float] = mapped_column(Double)
    hysteresis: Mapped[float] = mapped_column(Double)
    min_duration_s: Mapped[float] = mapped_column(Double)
    severity: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Alert(Base):
    """One occurrence of a rule on one device (and subject); open -> acknowledged -> resolved."""

    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_status", "status", "opened_at"),
        Index("ix_alert_device", "device_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(BigIntId)
    device_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    """The channel or sensor the alert is about; "" for the gateway itself."""
    group_path: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    active_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    """rule:device:subject while not resolved, NULL after: at most one active alert each."""
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(300))
    value: Mapped[float | None] = mapped_column(Double)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(100))


class Webhook(Base):
    """Where alert notifications go, signed with HMAC-SHA256 of the body under `secret`."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Notification(Base):
    """An alert event waiting for (or done with) delivery to one webhook: the outbox."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_due", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(BigIntId)
    alert_id: Mapped[int] = mapped_column(BigIntId)
    event: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failed: Mapped[bool] = mapped_column(Boolean)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Command(Base):
    """A remote command to one device; a group command is several rows with one batch id."""

    __tablename__ = "command"
    __table_args__ = (
        Index("ix_command_status", "status", "deadline_at"),
        Index("ix_command_batch", "batch_id"),
        Index("ix_command_device", "device_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(32))
    device_id: Mapped[str] = mapped_column(String(64))
    group_path: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    """write, reread or reboot."""
    sensor: Mapped[str | None] = mapped_column(String(64))
    point: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(16))
    """pending, done, failed or timed_out."""
    reason: Mapped[str | None] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Schedule(Base):
    """A nightly window ("dim to 30 % from 01:00 to 05:00") run by the fleet; its progress is
    kept here so a restarted fleet neither repeats nor skips a step."""

    __tablename__ = "schedule"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(200))
    sensor: Mapped[str] = mapped_column(String(64))
    point: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Double)
    end_value: Mapped[float | None] = mapped_column(Double)
    start: Mapped[str] = mapped_column(String(5))
    end: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_on: Mapped[str | None] = mapped_column(String(10))
    """The local date of the last window whose start was sent."""
    ended_on: Mapped[str | None] = mapped_column(String(10))
