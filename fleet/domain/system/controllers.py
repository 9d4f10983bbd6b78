"""GET /healthz."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.domain.system.schemas import HealthStatus
from fleet.domain.system.services import health


class SystemController(Controller):
    """Liveness for load balancers and operators."""

    path = "/healthz"
    tags = ["system"]

    @get("/")
    async def healthz(
        self, db_session: NamedDependency[AsyncSession], state: State
    ) -> Response[HealthStatus]:
        """200 when healthy, 503 when the database or the broker is unreachable."""
        status = await health(db_session, state.get("bridge_counters"))
        return Response(status, status_code=200 if status.status == "ok" else 503)
