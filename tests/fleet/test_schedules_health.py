"""Schedules send each window's start and end once, across a fleet restart; fleet-wide health
views count by district and street and find stale sensors and growing buffers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.auth.guard import ROOT
from fleet.auth.principal import Principal
from fleet.domain.commands.schedules import ScheduleRunner, ScheduleService
from fleet.domain.commands.schemas import ScheduleCreate
from fleet.domain.devices.schemas import Placement
from fleet.domain.devices.services import DeviceService
from fleet.domain.health.services import HealthService
from fleet.domain.ingest.schemas import HealthReceived, StateReceived
from fleet.domain.ingest.services import IngestService
from protocol.messages import CommandRequest, DeviceHealth
from tests.fleet.edge_stub import unique_device
from tests.fleet.test_ingest_service import health

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
STREET = "chengdu/wuhou/street-7"


class Sender:
    """Records what a schedule sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, CommandRequest]] = []

    async def send(self, device_id: str, command_id: str, request: CommandRequest) -> bool:
        self.sent.append((device_id, request))
        return True


async def _gateway(
    sessions: async_sessionmaker[AsyncSession], street: str, **health_fields: object
) -> str:
    device = unique_device("sched")
    beat = msgspec.structs.replace(health(), interval_s=10.0, **health_fields)
    await IngestService(sessions).commit(
        [StateReceived(device_id=device, online=True, received_at=NOW),
         HealthReceived(device_id=device, health=beat, received_at=NOW)],
        now=NOW,
    )  # fmt: skip
    _city, district, name = street.split("/")
    async with sessions() as session:
        await DeviceService(session, ROOT).place(
            device, Placement(pole_id=f"P-{device}", group=street, district=district, street=name)
        )
    return device


async def test_a_night_window_runs_once_per_step_across_a_restart(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    device = await _gateway(sessions, STREET)
    async with sessions() as session:
        await ScheduleService(session, ROOT).create(
            ScheduleCreate(name="night", group=STREET, sensor="lamp", point="dim", value=30,
                           end_value=100, start="23:00", end="05:00"),
            now=NOW,
        )  # fmt: skip
    day = datetime(2025, 5, 1, tzinfo=UTC)
    sender = Sender()
    runner = ScheduleRunner(sessions, sender)
    assert await runner.step(day.replace(hour=22)) == 0
    assert await runner.step(day.replace(hour=23, minute=1)) == 1
    assert await runner.step(day.replace(hour=23, minute=2)) == 0
    restarted = ScheduleRunner(sessions, sender)  # a fleet restarted inside the window
    assert await restarted.step(day + timedelta(hours=26)) == 0  # 02:00 next day
    assert await restarted.step(day + timedelta(hours=29, minutes=1)) == 1  # 05:01: end
    assert await restarted.step(day + timedelta(hours=29, minutes=2)) == 0
    assert [(d, r.point, r.value, r.device) for d, r in sender.sent] == [
        (device, "dim", 30.0, "lamp"),
        (device, "dim", 100.0, "lamp"),
    ]


async def test_views_by_district_and_street_stale_sensors_and_backlogs(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    stale = DeviceHealth(bus="rs485-1", name="tilt", online=False, last_reading_age_s=900.0)
    fresh = DeviceHealth(bus="rs485-1", name="lamp", online=True, last_reading_age_s=2.0)
    a = await _gateway(sessions, "chengdu/wuhou/street-7", devices=[stale, fresh],
                       buffer_batches=40, buffer_bytes=800, buffer_max_bytes=1000,
                       buffer_oldest_age_s=600.0)  # fmt: skip
    await _gateway(sessions, "chengdu/wuhou/street-9", devices=[fresh])
    await _gateway(sessions, "chengdu/jinjiang/street-1")
    district = Principal(key_id="k", name="wuhou", role="viewer", scope="chengdu/wuhou")
    async with sessions() as session:
        views = HealthService(session, district)
        summary = await views.summary(
            now=NOW + timedelta(seconds=5), stale_after_s=300, backlog_s=120
        )
        assert (summary.total, summary.online) == (2, 2)
        assert [(d.district, d.total, d.stale_sensors) for d in summary.districts] == [
            ("wuhou", 2, 1)
        ]
        assert [(s.street, s.total, s.growing_buffers) for s in summary.streets] == [
            ("street-7", 1, 1), ("street-9", 1, 0),
        ]  # fmt: skip
        [silent] = await views.stale_sensors(now=NOW + timedelta(seconds=5), older_than_s=300)
        assert (silent.device_id, silent.sensor, silent.age_s) == (a, "tilt", 905.0)
        [growing] = await views.growing_buffers(now=NOW + timedelta(seconds=5), backlog_s=120)
        assert (growing.device_id, growing.buffer_fill) == (a, 0.8)
        later = await views.summary(
            now=NOW + timedelta(seconds=31), stale_after_s=300, backlog_s=120
        )
        assert (later.online, later.offline) == (0, 2)  # 3 missed 10 s heartbeats
