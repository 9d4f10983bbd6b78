"""HTTP routes of the alerts context: alerts (viewer; ack/resolve: operator), rules and
webhooks (viewer reads rules; admin changes them)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.guard import now, requires
from fleet.auth.principal import Principal
from fleet.domain.alerts.schemas import (
    Alert,
    AlertFilter,
    AlertPage,
    AlertRule,
    AlertRuleCreate,
    Webhook,
    WebhookCreate,
)
from fleet.domain.alerts.services import AlertService
from fleet.domain.params import RowId


async def provide_alerts(
    db_session: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> AlertService:
    """The alert service for this request's session and caller."""
    return AlertService(db_session, principal)


class AlertController(Controller):
    """Alerts in the caller's subtree and their lifecycle."""

    path = "/api/v1/alerts"
    tags = ["alerts"]
    guards = [requires("viewer")]
    dependencies = {"alerts": Provide(provide_alerts)}

    @get("/")
    async def list_alerts(
        self,
        alerts: NamedDependency[AlertService],
        status: Annotated[
            AlertFilter | None, QueryParameter(description="active = open or acknowledged")
        ] = None,
        device_id: Annotated[str | None, QueryParameter(pattern=r"^[a-z0-9-]{1,64}$")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> AlertPage:
        """Alerts newest first."""
        return await alerts.list_alerts(status=status, device_id=device_id, limit=limit)

    @get("/{alert_id:int}")
    async def get_alert(self, alerts: NamedDependency[AlertService], alert_id: RowId) -> Alert:
        """One alert; 404 outside the caller's scope."""
        return await alerts.get(alert_id)

    @post("/{alert_id:int}/ack", guards=[requires("operator")], status_code=200)
    async def acknowledge(self, alerts: NamedDependency[AlertService], alert_id: RowId) -> Alert:
        """Acknowledge: the caller and time are recorded."""
        return await alerts.acknowledge(alert_id, now=now())

    @post("/{alert_id:int}/resolve", guards=[requires("operator")], status_code=200)
    async def resolve(self, alerts: NamedDependency[AlertService], alert_id: RowId) -> Alert:
        """Resolve by hand (it opens again if the condition still holds)."""
        return await alerts.resolve(alert_id, now=now())


class AlertRuleController(Controller):
    """Alert rules and notification webhooks."""

    path = "/api/v1/alert-rules"
    tags = ["alerts"]
    guards = [requires("viewer")]
    dependencies = {"alerts": Provide(provide_alerts)}

    @get("/")
    async def list_rules(self, alerts: NamedDependency[AlertService]) -> list[AlertRule]:
        """Rules that apply inside the caller's subtree."""
        return await alerts.list_rules()

    @post("/", guards=[requires("admin")])
    async def create_rule(
        self, alerts: NamedDependency[AlertService], data: JSONBody[AlertRuleCreate]
    ) -> AlertRule:
        """A new rule inside the caller's scope (201)."""
        return await alerts.create_rule(data, now=now())

    @delete("/{rule_id:int}", guards=[requires("admin")], status_code=200)
    async def delete_rule(self, alerts: NamedDependency[AlertService], rule_id: RowId) -> AlertRule:
        """Delete a rule; its alerts stay."""
        return await alerts.delete_rule(rule_id)


class WebhookController(Controller):
    """Webhooks that receive signed alert events (admin only)."""

    path = "/api/v1/webhooks"
    tags = ["alerts"]
    guards = [requires("admin")]
    dependencies = {"alerts": Provide(provide_alerts)}

    @get("/")
    async def list_webhooks(self, alerts: NamedDependency[AlertService]) -> list[Webhook]:
        """Webhooks inside the caller's scope (never their secrets)."""
        return await alerts.list_webhooks()

    @post("/")
    async def create_webhook(
        self, alerts: NamedDependency[AlertService], data: JSONBody[WebhookCreate]
    ) -> Webhook:
        """A new webhook (201)."""
        return await alerts.create_webhook(data, now=now())

    @delete("/{webhook_id:int}", status_code=200)
    async def delete_webhook(
        self, alerts: NamedDependency[AlertService], webhook_id: RowId
    ) -> Webhook:
        """Delete a webhook."""
        return await alerts.delete_webhook(webhook_id)
