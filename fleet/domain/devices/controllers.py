"""HTTP routes of the devices context; the only layer here that knows about HTTP."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.guard import requires
from fleet.auth.principal import Principal
from fleet.domain.devices.schemas import Device, DeviceCreate, DevicePage, DeviceUpdate, Placement
from fleet.domain.devices.services import DeviceService
from fleet.domain.params import MAX_ROW_ID, DevicePath

MAX_PAGE = 1000


async def provide_device_service(
    db_session: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> DeviceService:
    """The device service for this request's session and caller."""
    return DeviceService(db_session, principal)


class DeviceController(Controller):
    """List, inspect, register and place devices (in the caller's subtree only)."""

    path = "/api/v1/devices"
    tags = ["devices"]
    guards = [requires("viewer")]
    dependencies = {"devices": Provide(provide_device_service)}

    @get("/")
    async def list_devices(
        self,
        devices: NamedDependency[DeviceService],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="page size")] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_ROW_ID)] = 0,
        registered: Annotated[
            bool | None, QueryParameter(description="only registered (true) or unknown (false)")
        ] = None,
    ) -> DevicePage:
        """Devices in scope ordered by id, offset-paginated (the device table is small)."""
        return await devices.list(limit=limit, offset=offset, registered=registered)

    @get("/{device_id:str}")
    async def get_device(
        self, devices: NamedDependency[DeviceService], device_id: DevicePath
    ) -> Device:
        """One device with its effective status and last heartbeat; 404 outside the scope."""
        return await devices.get(device_id)

    @post("/", guards=[requires("admin")])
    async def register_device(
        self, devices: NamedDependency[DeviceService], data: JSONBody[DeviceCreate]
    ) -> Device:
        """Register a device; 409 if it is registered already."""
        return await devices.create(data)

    @patch("/{device_id:str}", guards=[requires("admin")])
    async def update_device(
        self,
        devices: NamedDependency[DeviceService],
        device_id: DevicePath,
        data: JSONBody[DeviceUpdate],
    ) -> Device:
        """Change a device's description or registration flag."""
        return await devices.update(device_id, data)

    @put("/{device_id:str}/placement", guards=[requires("admin")])
    async def place_device(
        self,
        devices: NamedDependency[DeviceService],
        device_id: DevicePath,
        data: JSONBody[Placement],
    ) -> Device:
        """Put the device on a pole of a group inside the caller's scope."""
        return await devices.place(device_id, data)
