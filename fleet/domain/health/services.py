"""Fleet-wide views over the devices a principal may see: counts, stale sensors, backlogs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.principal import Principal
from fleet.db import models
from fleet.db.provisioning import Pole
from fleet.domain.devices.services import scoped_devices
from fleet.domain.health.schemas import FleetSummary, GroupCounts, GrowingBuffer, StaleSensor
from fleet.domain.health.status import effective_status

UNPLACED = "(unplaced)"


class HealthService:
    """Reads the devices in scope once and derives the views from their last heartbeats."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    async def _rows(self) -> list[tuple[models.Device, Pole | None]]:
        result = await self._session.execute(scoped_devices(self._principal))
        return [(row[0], row[1]) for row in result.all()]

    async def summary(
        self, *, now: datetime, stale_after_s: float, backlog_s: float
    ) -> FleetSummary:
        """Status counts for the visible fleet, per district and per street."""
        districts: dict[str, GroupCounts] = {}
        streets: dict[tuple[str, str], GroupCounts] = {}
        total = GroupCounts(district="", street=None)
        for device, pole in await self._rows():
            district = (pole.district if pole else None) or UNPLACED
            street = (pole.street if pole else None) or UNPLACED
            status = _status(device, now)
            stale = len(_stale(device, pole, now, stale_after_s))
            growing = 1 if _growing(device, now, backlog_s) is not None else 0
            for counts in (
                total,
                districts.setdefault(district, GroupCounts(district=district, street=None)),
                streets.setdefault(
                    (district, street), GroupCounts(district=district, street=street)
                ),
            ):
                counts.total += 1
                setattr(counts, status, getattr(counts, status) + 1)
                counts.stale_sensors += stale
                counts.growing_buffers += growing
        return FleetSummary(
            total=total.total,
            online=total.online,
            offline=total.offline,
            unknown=total.unknown,
            districts=[districts[k] for k in sorted(districts)],
            streets=[streets[k] for k in sorted(streets)],
        )

    async def stale_sensors(self, *, now: datetime, older_than_s: float) -> list[StaleSensor]:
        """Sensors silent for longer than `older_than_s`, oldest first."""
        found = [s for d, p in await self._rows() for s in _stale(d, p, now, older_than_s)]
        return sorted(found, key=lambda s: -(s.age_s if s.age_s is not None else float("inf")))

    async def growing_buffers(self, *, now: datetime, backlog_s: float) -> list[GrowingBuffer]:
        """Gateways whose oldest buffered reading is older than `backlog_s`."""
        found = [g for d, _p in await self._rows() if (g := _growing(d, now, backlog_s))]
        return sorted(found, key=lambda g: -g.buffer_oldest_age_s)


def _status(device: models.Device, now: datetime) -> str:
    return effective_status(
        online=device.online,
        state_changed_at=device.state_changed_at,
        last_health_at=device.last_health_at,
        last_health=device.last_health,
        now=now,
    )


def _since_beat(device: models.Device, now: datetime) -> float:
    if device.last_health_at is None:
        return 0.0
    return max(0.0, (now - device.last_health_at).total_seconds())


def _stale(
    device: models.Device, pole: Pole | None, now: datetime, older_than_s: float
) -> list[StaleSensor]:
    health: dict[str, Any] = device.last_health or {}
    extra = _since_beat(device, now)
    stale = []
    for sensor in health.get("devices") or []:
        age = sensor.get("last_reading_age_s")
        age_now = None if age is None else float(age) + extra
        if age_now is None or age_now > older_than_s:
            stale.append(
                StaleSensor(
                    device_id=device.id,
                    bus=str(sensor.get("bus", "")),
                    sensor=str(sensor.get("name", "")),
                    online=bool(sensor.get("online", False)),
                    age_s=None if age_now is None else round(age_now, 1),
                    last_error=sensor.get("last_error"),
                    district=pole.district if pole else None,
                    street=pole.street if pole else None,
                )
            )
    return stale


def _growing(device: models.Device, now: datetime, backlog_s: float) -> GrowingBuffer | None:
    health: dict[str, Any] = device.last_health or {}
    oldest = health.get("buffer_oldest_age_s")
    batches = int(health.get("buffer_batches") or 0)
    if oldest is None or batches == 0:
        return None
    age = float(oldest) + _since_beat(device, now)
    if age <= backlog_s:
        return None
    cap = health.get("buffer_max_bytes") or 0
    size = int(health.get("buffer_bytes") or 0)
    return GrowingBuffer(
        device_id=device.id,
        buffer_batches=batches,
        buffer_bytes=size,
        buffer_oldest_age_s=round(age, 1),
        buffer_fill=round(size / cap, 4) if cap else None,
        status=_status(device, now),
    )
