"""Commands: create one row per target gateway, send them, report per-device outcomes."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.principal import Principal
from fleet.db.operations import Command as CommandRow
from fleet.db.provisioning import Pole
from fleet.domain.commands.schemas import Command, CommandBatch, CommandCreate
from fleet.domain.devices.services import DeviceService, in_scope
from fleet.domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from protocol.messages import CommandRequest


class Sender(Protocol):
    """The command channel (fleet.bridge.commands.CommandChannel)."""

    async def send(self, device_id: str, command_id: str, request: CommandRequest) -> bool:
        """Publish one request; False when it could not be sent."""
        ...


class CommandService:
    """Commands in one session, limited to the caller's subtree."""

    def __init__(self, session: AsyncSession, principal: Principal, sender: Sender | None) -> None:
        self._session = session
        self._principal = principal
        self._sender = sender

    async def create(self, data: CommandCreate, *, now: datetime) -> CommandBatch:
        """Validate, store one pending row per gateway, send; unsent rows fail with why."""
        if (data.device_id is None) == (data.group is None):
            raise InvalidInputError("give exactly one of device_id or group")
        if data.kind == "write" and (data.point is None or data.value is None):
            raise InvalidInputError("a write needs a point and a value")
        targets = await self._targets(data)
        batch_id = secrets.token_hex(8)
        request = CommandRequest(
            kind=data.kind, device=data.sensor, point=data.point, value=data.value
        )
        rows = [
            CommandRow(
                id=secrets.token_hex(12),
                batch_id=batch_id,
                device_id=device_id,
                group_path=group,
                kind=data.kind,
                sensor=data.sensor,
                point=data.point,
                value=None if data.value is None else float(data.value),
                status="pending",
                created_by=self._principal.label,
                created_at=now,
                deadline_at=now + timedelta(seconds=data.timeout_s),
            )
            for device_id, group in targets
        ]
        self._session.add_all(rows)
        await self._session.commit()
        for row in rows:
            sent = self._sender is not None and await self._sender.send(
                row.device_id, row.id, request
            )
            if not sent:
                row.status, row.reason, row.finished_at = (
                    "failed",
                    "fleet not connected to the broker",
                    now,
                )
        await self._session.commit()
        return CommandBatch(batch_id=batch_id, items=[to_schema(row) for row in rows])

    async def batch(self, batch_id: str) -> CommandBatch:
        """Every part of one command the caller may see; 404 when none."""
        rows = list(
            await self._session.scalars(
                select(CommandRow)
                .where(CommandRow.batch_id == batch_id)
                .where(in_scope(self._principal.scope, CommandRow.group_path))
                .order_by(CommandRow.device_id)
            )
        )
        if not rows:
            raise NotFoundError(f"no command {batch_id!r}")
        return CommandBatch(batch_id=batch_id, items=[to_schema(row) for row in rows])

    async def recent(self, *, device_id: str | None, limit: int) -> list[Command]:
        """The newest commands in scope, optionally of one gateway."""
        query = select(CommandRow).where(in_scope(self._principal.scope, CommandRow.group_path))
        if device_id is not None:
            query = query.where(CommandRow.device_id == device_id)
        rows = await self._session.scalars(
            query.order_by(CommandRow.created_at.desc()).limit(limit)
        )
        return [to_schema(row) for row in rows]

    async def _targets(self, data: CommandCreate) -> list[tuple[str, str]]:
        if data.device_id is not None:
            group = await DeviceService(self._session, self._principal).exists(data.device_id)
            return [(data.device_id, group)]
        assert data.group is not None
        if not self._principal.covers(data.group):
            raise ForbiddenError(f"group {data.group!r} is outside your scope")
        poles = await self._session.execute(
            select(Pole.device_id, Pole.group_path)
            .where(in_scope(data.group), Pole.device_id.is_not(None))
            .order_by(Pole.device_id)
        )
        targets = [(device, group) for device, group in poles.all() if device]
        if not targets:
            raise NotFoundError(f"no gateways in {data.group!r}")
        return targets


def to_schema(row: CommandRow) -> Command:
    """The API view of one command row."""
    return Command(
        id=row.id,
        batch_id=row.batch_id,
        device_id=row.device_id,
        kind=row.kind,
        sensor=row.sensor,
        point=row.point,
        value=row.value,
        status=row.status,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )
