"""Rules, alerts and webhooks as a principal sees them; raises domain errors only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.principal import Principal
from fleet.db.operations import Alert as AlertRow
from fleet.db.operations import AlertRule as RuleRow
from fleet.db.operations import Webhook as WebhookRow
from fleet.domain.alerts.notify import enqueue
from fleet.domain.alerts.schemas import (
    Alert,
    AlertFilter,
    AlertPage,
    AlertRule,
    AlertRuleCreate,
    Webhook,
    WebhookCreate,
)
from fleet.domain.devices.services import in_scope
from fleet.domain.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError


class AlertService:
    """Alert rules, alerts and webhooks in one session, limited to the caller's subtree."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    async def list_alerts(
        self, *, status: AlertFilter | None, device_id: str | None, limit: int
    ) -> AlertPage:
        """Alerts newest first; status `active` means open or acknowledged."""
        query = select(AlertRow).where(in_scope(self._principal.scope, AlertRow.group_path))
        if status == "active":
            query = query.where(AlertRow.status != "resolved")
        elif status is not None:
            query = query.where(AlertRow.status == status)
        if device_id is not None:
            query = query.where(AlertRow.device_id == device_id)
        rows = await self._session.scalars(query.order_by(AlertRow.id.desc()).limit(limit))
        return AlertPage(items=[alert_schema(row) for row in rows])

    async def get(self, alert_id: int) -> Alert:
        """One alert; 404 outside the caller's scope."""
        return alert_schema(await self._load(alert_id))

    async def acknowledge(self, alert_id: int, *, now: datetime) -> Alert:
        """open -> acknowledged, recording who and when; 409 once resolved."""
        row = await self._load(alert_id)
        if row.status == "resolved":
            raise ConflictError(f"alert {alert_id} is resolved already")
        if row.status == "open":
            row.status = "acknowledged"
            row.acknowledged_at, row.acknowledged_by = now, self._principal.label
            await enqueue(self._session, row, "acknowledged", now=now)
            await self._session.commit()
        return alert_schema(row)

    async def resolve(self, alert_id: int, *, now: datetime) -> Alert:
        """open/acknowledged -> resolved by hand (it reopens if the condition still holds)."""
        row = await self._load(alert_id)
        if row.status != "resolved":
            row.status, row.active_key = "resolved", None
            row.resolved_at, row.resolved_by = now, self._principal.label
            await enqueue(self._session, row, "resolved", now=now)
            await self._session.commit()
        return alert_schema(row)

    async def list_rules(self) -> list[AlertRule]:
        """Rules whose scope overlaps the caller's subtree."""
        rows = await self._session.scalars(select(RuleRow).order_by(RuleRow.id))
        return [
            rule_schema(r)
            for r in rows
            if self._principal.covers(r.scope) or _covers(r.scope, self._principal.scope)
        ]

    async def create_rule(self, data: AlertRuleCreate, *, now: datetime) -> AlertRule:
        """A new rule inside the caller's scope."""
        self._check_scope(data.scope)
        if data.kind == "threshold" and not data.channel:
            raise InvalidInputError("a threshold rule needs a channel, e.g. x_angle")
        row = RuleRow(
            name=data.name,
            kind=data.kind,
            channel=data.channel if data.kind in ("threshold", "sensor_silent") else None,
            op=data.op if data.kind == "threshold" else ">",
            threshold=data.threshold,
            hysteresis=data.hysteresis,
            min_duration_s=data.min_duration_s,
            severity=data.severity,
            scope=data.scope,
            enabled=True,
            created_at=now,
        )
        self._session.add(row)
        await self._session.commit()
        return rule_schema(row)

    async def delete_rule(self, rule_id: int) -> AlertRule:
        """Delete a rule inside the caller's scope (its alerts stay, for the record)."""
        row = await self._session.get(RuleRow, rule_id)
        if row is None or not self._principal.covers(row.scope):
            raise NotFoundError(f"no alert rule {rule_id}")
        await self._session.delete(row)
        await self._session.commit()
        return rule_schema(row)

    async def list_webhooks(self) -> list[Webhook]:
        """Webhooks inside the caller's scope."""
        rows = await self._session.scalars(select(WebhookRow).order_by(WebhookRow.id))
        return [webhook_schema(r) for r in rows if self._principal.covers(r.scope)]

    async def create_webhook(self, data: WebhookCreate, *, now: datetime) -> Webhook:
        """A new webhook inside the caller's scope; its secret is never shown again."""
        self._check_scope(data.scope)
        row = WebhookRow(
            url=data.url, secret=data.secret, scope=data.scope, enabled=True, created_at=now
        )
        self._session.add(row)
        await self._session.commit()
        return webhook_schema(row)

    async def delete_webhook(self, webhook_id: int) -> Webhook:
        """Delete a webhook inside the caller's scope."""
        row = await self._session.get(WebhookRow, webhook_id)
        if row is None or not self._principal.covers(row.scope):
            raise NotFoundError(f"no webhook {webhook_id}")
        await self._session.delete(row)
        await self._session.commit()
        return webhook_schema(row)

    def _check_scope(self, scope: str) -> None:
        if not self._principal.covers(scope) or (self._principal.scope and not scope):
            raise ForbiddenError(f"scope {scope!r} is outside your scope")

    async def _load(self, alert_id: int) -> AlertRow:
        row = await self._session.get(AlertRow, alert_id)
        if row is None or not self._principal.covers(row.group_path):
            raise NotFoundError(f"no alert {alert_id}")
        return row


def _covers(scope: str, path: str) -> bool:
    return scope == "" or path == scope or path.startswith(scope + "/")


def alert_schema(row: AlertRow) -> Alert:
    """The API view of an alert row."""
    return Alert(
        id=row.id,
        rule_id=row.rule_id,
        device_id=row.device_id,
        subject=row.subject,
        group=row.group_path,
        status=row.status,
        severity=row.severity,
        message=row.message,
        value=row.value,
        opened_at=row.opened_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
    )


def rule_schema(row: RuleRow) -> AlertRule:
    """The API view of a rule row."""
    return AlertRule(
        id=row.id,
        name=row.name,
        kind=row.kind,
        channel=row.channel,
        op=row.op,
        threshold=row.threshold,
        hysteresis=row.hysteresis,
        min_duration_s=row.min_duration_s,
        severity=row.severity,
        scope=row.scope,
        enabled=row.enabled,
    )


def webhook_schema(row: WebhookRow) -> Webhook:
    """The API view of a webhook (never its secret)."""
    return Webhook(
        id=row.id, url=row.url, scope=row.scope, enabled=row.enabled, created_at=row.created_at
    )
