"""Dashboard pages (GET): overview, map, device, alerts, commands. Viewer role and up."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.guard import now, requires
from fleet.auth.principal import Principal
from fleet.dashboard.charts import chart
from fleet.dashboard.login import to_login
from fleet.domain.alerts.services import AlertService
from fleet.domain.commands.services import CommandService
from fleet.domain.devices.services import DeviceService
from fleet.domain.health.services import HealthService
from fleet.domain.params import DevicePath
from fleet.domain.telemetry.services import TelemetryService

DAY_S = 86400.0


def page(name: str, principal: Principal, state: State, **context: Any) -> Template:
    """Render a page with who is logged in."""
    return Template(
        template_name=name,
        context={"me": principal, "rollouts_enabled": state.get("rollout_engine") is not None,
                 **context},
    )  # fmt: skip


class DashboardPages(Controller):
    """Server-rendered pages over the same services (and scope) as the API."""

    path = "/ui"
    guards = [requires("viewer")]
    include_in_schema = False
    exception_handlers = {NotAuthorizedException: to_login}

    @get("/")
    async def overview(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        state: State,
    ) -> Template:
        """Counts by district and the gateways in scope."""
        summary = await HealthService(db_session, principal).summary(
            now=now(), stale_after_s=300, backlog_s=120
        )
        devices = await DeviceService(db_session, principal).list(limit=1000, offset=0)
        alerts = await AlertService(db_session, principal).list_alerts(
            status="active", device_id=None, limit=1000
        )
        return page("overview.html", principal, state, summary=summary, devices=devices.items,
                    active_alerts=len(alerts.items))  # fmt: skip

    @get("/map")
    async def map_page(self, principal: NamedDependency[Principal], state: State) -> Template:
        """Poles on a Leaflet map (tiles only when a tile URL is configured)."""
        return page("map.html", principal, state, tile_url=state.get("tile_url"),
                    tile_attribution=state.get("tile_attribution") or "")  # fmt: skip

    @get("/poles.json")
    async def poles(
        self, db_session: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> list[dict[str, Any]]:
        """Placed gateways in scope with coordinates and status, for the map."""
        devices = await DeviceService(db_session, principal).list(limit=1000, offset=0)
        return [
            {"id": d.id, "lat": d.lat, "lon": d.lon, "status": d.status,
             "street": d.street or "", "district": d.district or ""}
            for d in devices.items
            if d.lat is not None and d.lon is not None
        ]  # fmt: skip

    @get("/devices/{device_id:str}")
    async def device(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        state: State,
        device_id: DevicePath,
    ) -> Template:
        """Live values, 24 h charts, recent commands and the command panel of one gateway."""
        device = await DeviceService(db_session, principal).get(device_id)
        telemetry = TelemetryService(db_session)
        until = time.time()
        series = await telemetry.window(device_id, since=until - DAY_S, limit=20_000)
        charts = [
            c
            for name, pts in series.items()
            if (c := chart(name, pts, since=until - DAY_S, until=until))
        ]
        latest = await telemetry.latest(device_id)
        commands = await CommandService(db_session, principal, None).recent(
            device_id=device_id, limit=10
        )
        return page("device.html", principal, state, device=device, charts=charts,
                    latest=latest.channels, now=until, commands=commands,
                    can_command=principal.at_least("operator"))  # fmt: skip

    @get("/devices/{device_id:str}/live")
    async def live(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        device_id: DevicePath,
    ) -> Template:
        """The live-values table alone (the device page refreshes it every 5 s)."""
        await DeviceService(db_session, principal).exists(device_id)
        latest = await TelemetryService(db_session).latest(device_id)
        return Template(
            template_name="live.html", context={"latest": latest.channels, "now": time.time()}
        )

    @get("/alerts")
    async def alerts(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        state: State,
    ) -> Template:
        """Alerts in scope, with acknowledge and resolve for operators."""
        found = await AlertService(db_session, principal).list_alerts(
            status=None, device_id=None, limit=200
        )
        return page("alerts.html", principal, state, alerts=found.items,
                    can_act=principal.at_least("operator"))  # fmt: skip

    @get("/commands")
    async def commands(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        state: State,
    ) -> Template:
        """The group command panel and the newest commands in scope."""
        devices = await DeviceService(db_session, principal).list(limit=1000, offset=0)
        groups = sorted({d.group for d in devices.items if d.group} | {
            d.group.rsplit("/", 1)[0] for d in devices.items if d.group and d.group.count("/") >= 2
        })  # fmt: skip
        recent = await CommandService(db_session, principal, None).recent(device_id=None, limit=50)
        return page("commands.html", principal, state, groups=groups, commands=recent,
                    can_command=principal.at_least("operator"),
                    error=request.query_params.get("error"))  # fmt: skip
