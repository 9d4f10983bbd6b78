"""HTTP routes of the health context: fleet-wide views in the caller's subtree."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.guard import now, requires
from fleet.auth.principal import Principal
from fleet.domain.health.schemas import FleetSummary, GrowingBuffer, StaleSensor
from fleet.domain.health.services import HealthService

Seconds = Annotated[float, QueryParameter(ge=0, le=30 * 86400)]


async def provide_health(
    db_session: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> HealthService:
    """The health service for this request's session and caller."""
    return HealthService(db_session, principal)


class FleetHealthController(Controller):
    """Counts by district and street, stale sensors, gateways whose buffer is growing."""

    path = "/api/v1/health"
    tags = ["health"]
    guards = [requires("viewer")]
    dependencies = {"health": Provide(provide_health)}

    @get("/summary")
    async def summary(
        self,
        health: NamedDependency[HealthService],
        stale_after: Seconds = 300.0,
        backlog_after: Seconds = 120.0,
    ) -> FleetSummary:
        """Gateways by status, per district and street, with stale sensors and backlogs."""
        return await health.summary(now=now(), stale_after_s=stale_after, backlog_s=backlog_after)

    @get("/stale-sensors")
    async def stale_sensors(
        self, health: NamedDependency[HealthService], older_than: Seconds = 300.0
    ) -> list[StaleSensor]:
        """Sensors whose last reading is older than `older_than` seconds (or that never read)."""
        return await health.stale_sensors(now=now(), older_than_s=older_than)

    @get("/growing-buffers")
    async def growing_buffers(
        self, health: NamedDependency[HealthService], backlog_after: Seconds = 120.0
    ) -> list[GrowingBuffer]:
        """Gateways whose oldest buffered reading is older than `backlog_after` seconds."""
        return await health.growing_buffers(now=now(), backlog_s=backlog_after)
