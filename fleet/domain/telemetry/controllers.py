"""HTTP routes of the telemetry context."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.guard import requires
from fleet.auth.principal import Principal
from fleet.domain.devices.services import DeviceService
from fleet.domain.params import DevicePath
from fleet.domain.telemetry.schemas import LatestValues, TelemetryPage, TelemetryQuery
from fleet.domain.telemetry.services import TelemetryService

MAX_LIMIT = 10_000


class TelemetryController(Controller):
    """Latest values and time series of one device."""

    path = "/api/v1/devices/{device_id:str}"
    tags = ["telemetry"]
    guards = [requires("viewer")]

    @get("/latest")
    async def latest(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        device_id: DevicePath,
    ) -> LatestValues:
        """The newest point of every channel; 404 for an unknown or out-of-scope device."""
        await DeviceService(db_session, principal).exists(device_id)
        return await TelemetryService(db_session).latest(device_id)

    @get("/telemetry")
    async def telemetry(
        self,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        device_id: DevicePath,
        channel: Annotated[
            str | None, QueryParameter(description="one channel, e.g. meter/voltage")
        ] = None,
        since: Annotated[
            float | None, QueryParameter(description="from this unix time (inclusive)")
        ] = None,
        until: Annotated[
            float | None, QueryParameter(description="to this unix time (exclusive)")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="page size")] = 1000,
        cursor: Annotated[
            str | None, QueryParameter(description="next_cursor of the previous page")
        ] = None,
    ) -> TelemetryPage:
        """Points in time order, keyset-paginated: follow `next_cursor` until it is null."""
        await DeviceService(db_session, principal).exists(device_id)
        query = TelemetryQuery(
            device_id=device_id,
            channel=channel,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
        return await TelemetryService(db_session).series(query)
