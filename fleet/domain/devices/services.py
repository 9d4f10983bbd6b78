"""Device service: reads and registers devices; raises domain errors only."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.db import models
from fleet.domain.devices.schemas import Device, DeviceCreate, DevicePage, DeviceUpdate
from fleet.domain.errors import ConflictError, NotFoundError


class DeviceService:
    """Devices in one database session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def list(self, *, limit: int, offset: int, registered: bool | None = None) -> DevicePage:
        """A page of devices ordered by id, optionally only (un)registered ones."""
        query = select(models.Device)
        count = select(func.count()).select_from(models.Device)
        if registered is not None:
            query = query.where(models.Device.registered == registered)
            count = count.where(models.Device.registered == registered)
        rows = await self._session.scalars(
            query.order_by(models.Device.id).limit(limit).offset(offset)
        )
        total = await self._session.scalar(count)
        return DevicePage(
            items=[to_schema(row) for row in rows], total=total or 0, limit=limit, offset=offset
        )

    async def get(self, device_id: str) -> Device:
        """One device; NotFoundError if the fleet never heard of it."""
        return to_schema(await self._load(device_id))

    async def exists(self, device_id: str) -> None:
        """Raise NotFoundError unless the device is known."""
        await self._load(device_id)

    async def create(self, data: DeviceCreate) -> Device:
        """Register a device; adopts an unregistered one that already published."""
        row = await self._session.get(models.Device, data.id)
        if row is not None and row.registered:
            raise ConflictError(f"device {data.id!r} is already registered")
        if row is None:
            row = models.Device(id=data.id, created_at=datetime.now(UTC))
            self._session.add(row)
        row.registered = True
        row.description = data.description
        await self._session.commit()
        return to_schema(row)

    async def update(self, device_id: str, data: DeviceUpdate) -> Device:
        """Apply the fields that were given."""
        row = await self._load(device_id)
        for name, value in msgspec.structs.asdict(data).items():
            if value is not msgspec.UNSET:
                setattr(row, name, value)
        await self._session.commit()
        return to_schema(row)

    async def _load(self, device_id: str) -> models.Device:
        row = await self._session.get(models.Device, device_id)
        if row is None:
            raise NotFoundError(f"no device {device_id!r}")
        return row


def to_schema(row: models.Device) -> Device:
    """The API view of a device row."""
    return Device(
        id=row.id,
        registered=row.registered,
        description=row.description,
        online=row.online,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        state_changed_at=row.state_changed_at,
        last_health_at=row.last_health_at,
        last_health=row.last_health,
    )
