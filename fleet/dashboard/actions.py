"""Dashboard actions (form POSTs): acknowledge/resolve alerts, send commands. Operator role."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.guard import now, requires
from fleet.auth.principal import Principal
from fleet.dashboard.login import Form, to_login
from fleet.domain.alerts.services import AlertService
from fleet.domain.commands.schemas import CommandCreate
from fleet.domain.commands.services import CommandService
from fleet.domain.errors import InvalidInputError
from fleet.domain.params import DevicePath, RowId


def _sender(state: State) -> Any:
    operations = state.get("operations")
    return operations.commands if operations is not None else None


def _value(text: str | None) -> float | bool | None:
    if text is None or text.strip() == "":
        return None
    lowered = text.strip().lower()
    if lowered in ("true", "on"):
        return True
    if lowered in ("false", "off"):
        return False
    return float(lowered)


class DashboardActions(Controller):
    """What operators do from the dashboard; each POST is audited like an API call."""

    path = "/ui"
    guards = [requires("operator")]
    include_in_schema = False
    exception_handlers = {NotAuthorizedException: to_login}

    @post("/alerts/{alert_id:int}/ack", status_code=303)
    async def acknowledge(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        alert_id: RowId,
    ) -> Response[Any]:
        """Acknowledge, then back to the list."""
        await AlertService(db_session, principal).acknowledge(alert_id, now=now())
        return Redirect(path="/ui/alerts")

    @post("/alerts/{alert_id:int}/resolve", status_code=303)
    async def resolve(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        alert_id: RowId,
    ) -> Response[Any]:
        """Resolve, then back to the list."""
        await AlertService(db_session, principal).resolve(alert_id, now=now())
        return Redirect(path="/ui/alerts")

    @post("/commands/send", status_code=303)
    async def group_command(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        state: State,
        data: Form,
    ) -> Response[Any]:
        """Write one point on every gateway of a street or district."""
        try:
            command = CommandCreate(kind="write", group=data.get("group"), point=data.get("point"),
                                    value=_value(data.get("value")))  # fmt: skip
            await CommandService(db_session, principal, _sender(state)).create(command, now=now())
        except (InvalidInputError, ValueError) as exc:
            return Redirect(path=f"/ui/commands?error={quote(str(exc))}")
        return Redirect(path="/ui/commands")

    @post("/devices/{device_id:str}/command", status_code=303)
    async def device_command(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        state: State,
        device_id: DevicePath,
        data: Form,
    ) -> Response[Any]:
        """Send a command to one gateway, then back to its page."""
        kind = data.get("kind", "write")
        if kind not in ("write", "reread", "reboot"):
            kind = "write"
        command = CommandCreate(
            kind=kind,  # type: ignore[arg-type]
            device_id=device_id,
            sensor=data.get("sensor") or None,
            point=data.get("point") or None,
            value=_value(data.get("value")),
        )
        await CommandService(db_session, principal, _sender(state)).create(command, now=now())
        return Redirect(path=f"/ui/devices/{device_id}")
