"""Schedules: CRUD, and the runner that sends each window's start and end exactly once a day.

Progress (`started_on`, `ended_on`: the local date of the window) lives in the database, so a
fleet restarted inside a window sends what it has not sent yet, and nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.auth.principal import Principal
from fleet.db.operations import Schedule as ScheduleRow
from fleet.domain.commands.schemas import CommandCreate, Schedule, ScheduleCreate
from fleet.domain.commands.services import CommandService, Sender
from fleet.domain.devices.services import in_scope
from fleet.domain.errors import DomainError, ForbiddenError, InvalidInputError, NotFoundError

log = logging.getLogger("fleet.schedules")
SYSTEM = Principal(key_id="scheduler", name="schedule", role="operator", scope="")


class ScheduleService:
    """Schedules in one session, limited to the caller's subtree."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    async def list(self) -> list[Schedule]:
        """Schedules whose group lies in the caller's subtree."""
        rows = await self._session.scalars(
            select(ScheduleRow)
            .where(in_scope(self._principal.scope, ScheduleRow.target))
            .order_by(ScheduleRow.id)
        )
        return [to_schema(row) for row in rows]

    async def create(self, data: ScheduleCreate, *, now: datetime) -> Schedule:
        """A new schedule for a group inside the caller's scope."""
        if not self._principal.covers(data.group):
            raise ForbiddenError(f"group {data.group!r} is outside your scope")
        try:
            ZoneInfo(data.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInputError(f"unknown time zone {data.timezone!r}") from None
        if data.start == data.end:
            raise InvalidInputError("start and end must differ")
        row = ScheduleRow(
            name=data.name, target=data.group, sensor=data.sensor or "", point=data.point,
            value=data.value, end_value=data.end_value, start=data.start, end=data.end,
            timezone=data.timezone, enabled=True, created_by=self._principal.label, created_at=now,
        )  # fmt: skip
        self._session.add(row)
        await self._session.commit()
        return to_schema(row)

    async def delete(self, schedule_id: int) -> Schedule:
        """Delete a schedule in the caller's scope."""
        row = await self._session.get(ScheduleRow, schedule_id)
        if row is None or not self._principal.covers(row.target):
            raise NotFoundError(f"no schedule {schedule_id}")
        await self._session.delete(row)
        await self._session.commit()
        return to_schema(row)


def window_steps(row: ScheduleRow, now: datetime) -> list[tuple[str, date]]:
    """Which steps ("start", "end") are due now, with the local date of their window."""
    local = now.astimezone(ZoneInfo(row.timezone))
    start, end = _clock(row.start), _clock(row.end)
    t = local.time()
    today = local.date()
    overnight = end < start
    if overnight:
        in_window = t >= start or t < end
        window_day = today if t >= start else today - timedelta(days=1)
    else:
        in_window = start <= t < end
        window_day = today
    steps = []
    if in_window and row.started_on != window_day.isoformat():
        steps.append(("start", window_day))
    if not in_window and row.end_value is not None:
        last_end = today if t >= end else today - timedelta(days=1)
        ended_window = last_end - timedelta(days=1) if overnight else last_end
        done = ended_window.isoformat()
        if row.started_on == done and row.ended_on != done:
            steps.append(("end", ended_window))
    return steps


class ScheduleRunner:
    """Checks every schedule every `interval_s` and sends the due steps as group commands."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], sender: Sender) -> None:
        self._sessions = sessions
        self._sender = sender
        self.sent = 0

    async def run(self, *, interval_s: float = 5.0) -> None:
        """Run until cancelled."""
        while True:
            try:
                await self.step(datetime.now(UTC))
            except Exception:
                log.exception("schedule round failed")
            await asyncio.sleep(interval_s)

    async def step(self, now: datetime) -> int:
        """Send every due step once; returns how many were sent."""
        sent = 0
        async with self._sessions() as session:
            for row in list(await session.scalars(select(ScheduleRow).where(ScheduleRow.enabled))):
                for step, day in window_steps(row, now):
                    value = row.value if step == "start" else row.end_value
                    command = CommandCreate(
                        kind="write", group=row.target, sensor=row.sensor or None,
                        point=row.point, value=value,
                    )  # fmt: skip
                    try:
                        await CommandService(session, SYSTEM, self._sender).create(command, now=now)
                    except DomainError as exc:
                        log.warning("schedule %s: %s", row.name, exc)
                    if step == "start":
                        row.started_on = day.isoformat()
                    else:
                        row.ended_on = day.isoformat()
                    await session.commit()
                    sent += 1
        self.sent += sent
        return sent


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def to_schema(row: ScheduleRow) -> Schedule:
    """The API view of a schedule."""
    return Schedule(
        id=row.id, name=row.name, group=row.target, sensor=row.sensor or None, point=row.point,
        value=row.value, end_value=row.end_value, start=row.start, end=row.end,
        timezone=row.timezone, enabled=row.enabled, started_on=row.started_on,
        ended_on=row.ended_on,
    )  # fmt: skip
