"""Alert API schemas (msgspec): rules, alerts, webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from fleet.domain.access.schemas import Scope

RuleKind = Literal["threshold", "offline", "buffer", "sensor_silent"]
RuleOp = Literal[">", "<", "abs>", "true"]
Severity = Literal["info", "warning", "critical"]
AlertFilter = Literal["open", "acknowledged", "resolved", "active"]
Channel = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}(/[A-Za-z0-9_.-]{1,64})?$")]


class AlertRuleCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A rule. threshold: `channel op threshold` on telemetry ("true" for a bit or button);
    offline: offline for `threshold` s; buffer: fuller than `threshold` %;
    sensor_silent: a sensor's last reading older than `threshold` s."""

    name: Annotated[str, Meta(min_length=1, max_length=100)]
    kind: RuleKind
    threshold: Annotated[float, Meta(ge=-1e9, le=1e9)] = 0.0
    channel: Channel | None = None
    op: RuleOp = ">"
    hysteresis: Annotated[float, Meta(ge=0, le=1e6)] = 0.0
    min_duration_s: Annotated[float, Meta(ge=0, le=7 * 86400)] = 0.0
    severity: Severity = "warning"
    scope: Scope = ""


class AlertRule(msgspec.Struct, kw_only=True):
    """A stored rule."""

    id: int
    name: str
    kind: str
    channel: str | None
    op: str
    threshold: float
    hysteresis: float
    min_duration_s: float
    severity: str
    scope: str
    enabled: bool


class Alert(msgspec.Struct, kw_only=True):
    """One alert and who moved it through its lifecycle, when."""

    id: int
    rule_id: int
    device_id: str
    subject: str
    group: str
    status: str
    severity: str
    message: str
    value: float | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None


class AlertPage(msgspec.Struct, kw_only=True):
    """Alerts in the caller's scope, newest first."""

    items: list[Alert]


class WebhookCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where to POST alert events for devices in `scope`; the secret signs them (HMAC-SHA256)."""

    url: Annotated[str, Meta(pattern=r"^https?://[^\s]{1,490}$")]
    secret: Annotated[str, Meta(min_length=16, max_length=128)]
    scope: Scope = ""


class Webhook(msgspec.Struct, kw_only=True):
    """A webhook, without its secret."""

    id: int
    url: str
    scope: str
    enabled: bool
    created_at: datetime
