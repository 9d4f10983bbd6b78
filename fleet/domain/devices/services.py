"""Device service: reads, registers and places devices, always through a principal's scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.principal import Principal
from fleet.db import models
from fleet.db.provisioning import Pole
from fleet.domain.devices.schemas import (
    Device,
    DeviceCreate,
    DevicePage,
    DeviceUpdate,
    Placement,
)
from fleet.domain.errors import ConflictError, ForbiddenError, NotFoundError
from fleet.domain.health.status import effective_status


def in_scope(scope: str, column: Any = Pole.group_path) -> ColumnElement[bool]:
    """SQL: `column` lies in the subtree `scope` ("" is everything)."""
    if scope == "":
        return true()
    clause: ColumnElement[bool] = (column == scope) | column.startswith(
        scope + "/", autoescape=True
    )
    return clause


def scoped_devices(principal: Principal) -> Select[models.Device, Pole]:
    """Devices with their poles, limited to what the principal may see."""
    query = select(models.Device, Pole).outerjoin(Pole, Pole.device_id == models.Device.id)
    if principal.scope:
        query = query.where(in_scope(principal.scope))
    return query


class DeviceService:
    """Devices in one database session."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    async def list(self, *, limit: int, offset: int, registered: bool | None = None) -> DevicePage:
        """A page of the devices in scope ordered by id, optionally only (un)registered ones."""
        query = scoped_devices(self._principal)
        if registered is not None:
            query = query.where(models.Device.registered == registered)
        total = await self._session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self._session.execute(
            query.order_by(models.Device.id).limit(limit).offset(offset)
        )
        now = datetime.now(UTC)
        return DevicePage(
            items=[to_schema(d, p, now) for d, p in rows.all()],
            total=total or 0,
            limit=limit,
            offset=offset,
        )

    async def get(self, device_id: str) -> Device:
        """One device; NotFoundError if unknown or outside the caller's scope."""
        device, pole = await self._load(device_id)
        return to_schema(device, pole, datetime.now(UTC))

    async def exists(self, device_id: str) -> str:
        """The device's group path; NotFoundError unless it is known and in scope."""
        _device, pole = await self._load(device_id)
        return pole.group_path if pole is not None else ""

    async def create(self, data: DeviceCreate) -> Device:
        """Register a device; adopts an unregistered one that already published."""
        row = await self._session.get(models.Device, data.id)
        if row is not None:
            await self._load(data.id)  # 404, not 409, for a device outside the scope
        if row is not None and row.registered:
            raise ConflictError(f"device {data.id!r} is already registered")
        if self._principal.scope:
            raise ForbiddenError("only a fleet-wide admin registers unplaced devices")
        if row is None:
            row = models.Device(id=data.id, created_at=datetime.now(UTC))
            self._session.add(row)
        row.registered = True
        row.description = data.description
        await self._session.commit()
        return await self.get(data.id)

    async def update(self, device_id: str, data: DeviceUpdate) -> Device:
        """Apply the fields that were given."""
        row, _pole = await self._load(device_id)
        for name, value in msgspec.structs.asdict(data).items():
            if value is not msgspec.UNSET:
                setattr(row, name, value)
        await self._session.commit()
        return await self.get(device_id)

    async def place(self, device_id: str, data: Placement) -> Device:
        """Put the device on a pole in a group inside the caller's scope."""
        await self._load(device_id)
        if not self._principal.covers(data.group):
            raise ForbiddenError(f"group {data.group!r} is outside your scope")
        pole = await self._session.get(Pole, data.pole_id)
        if pole is not None and pole.device_id not in (None, device_id):
            raise ConflictError(f"pole {data.pole_id} carries gateway {pole.device_id}")
        previous = await self._session.scalar(select(Pole).where(Pole.device_id == device_id))
        if previous is not None and previous.id != data.pole_id:
            previous.device_id = None
            await self._session.flush()
        if pole is None:
            pole = Pole(id=data.pole_id)
            self._session.add(pole)
        pole.group_path, pole.device_id = data.group, device_id
        pole.district, pole.street = data.district, data.street
        pole.lat, pole.lon = data.lat, data.lon
        pole.updated_at = datetime.now(UTC)
        await self._session.commit()
        return await self.get(device_id)

    async def _load(self, device_id: str) -> tuple[models.Device, Pole | None]:
        query = scoped_devices(self._principal).where(models.Device.id == device_id)
        found = (await self._session.execute(query)).first()
        if found is None:
            raise NotFoundError(f"no device {device_id!r}")
        return found[0], found[1]


def to_schema(row: models.Device, pole: Pole | None, now: datetime) -> Device:
    """The API view of a device row and its pole."""
    return Device(
        id=row.id,
        registered=row.registered,
        description=row.description,
        online=row.online,
        status=effective_status(
            online=row.online,
            state_changed_at=row.state_changed_at,
            last_health_at=row.last_health_at,
            last_health=row.last_health,
            now=now,
        ),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        state_changed_at=row.state_changed_at,
        last_health_at=row.last_health_at,
        last_health=row.last_health,
        group=pole.group_path if pole else None,
        pole_id=pole.id if pole else None,
        district=pole.district if pole else None,
        street=pole.street if pole else None,
        lat=pole.lat if pole else None,
        lon=pole.lon if pole else None,
    )
