"""HTTP routes of remote control: commands (operator) and schedules (operator)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.guard import now, requires
from fleet.auth.principal import Principal
from fleet.domain.commands.schedules import ScheduleService
from fleet.domain.commands.schemas import (
    Command,
    CommandBatch,
    CommandCreate,
    Schedule,
    ScheduleCreate,
)
from fleet.domain.commands.services import CommandService
from fleet.domain.params import RowId, TokenId


async def provide_commands(
    db_session: NamedDependency[AsyncSession], principal: NamedDependency[Principal], state: State
) -> CommandService:
    """The command service with the fleet's command channel (None without a bridge)."""
    operations = state.get("operations")
    sender = operations.commands if operations is not None else None
    return CommandService(db_session, principal, sender)


async def provide_schedules(
    db_session: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> ScheduleService:
    """The schedule service for this request."""
    return ScheduleService(db_session, principal)


class CommandController(Controller):
    """Send commands to a gateway or a group; follow each gateway's outcome."""

    path = "/api/v1/commands"
    tags = ["commands"]
    guards = [requires("viewer")]
    dependencies = {"commands": Provide(provide_commands)}

    @post("/", guards=[requires("operator")])
    async def create_command(
        self, commands: NamedDependency[CommandService], data: JSONBody[CommandCreate]
    ) -> CommandBatch:
        """Send a command (201): one pending part per gateway; poll the batch for outcomes."""
        return await commands.create(data, now=now())

    @get("/")
    async def recent(
        self,
        commands: NamedDependency[CommandService],
        device_id: Annotated[str | None, QueryParameter(pattern=r"^[a-z0-9-]{1,64}$")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 50,
    ) -> list[Command]:
        """The newest commands in the caller's subtree."""
        return await commands.recent(device_id=device_id, limit=limit)

    @get("/{batch_id:str}")
    async def batch(
        self, commands: NamedDependency[CommandService], batch_id: TokenId
    ) -> CommandBatch:
        """Every gateway's part of one command: pending, done, failed (why) or timed_out."""
        return await commands.batch(batch_id)


class ScheduleController(Controller):
    """Nightly windows ("dim to 30 % from 01:00 to 05:00") run by the fleet."""

    path = "/api/v1/schedules"
    tags = ["commands"]
    guards = [requires("viewer")]
    dependencies = {"schedules": Provide(provide_schedules)}

    @get("/")
    async def list_schedules(self, schedules: NamedDependency[ScheduleService]) -> list[Schedule]:
        """Schedules in the caller's subtree."""
        return await schedules.list()

    @post("/", guards=[requires("operator")])
    async def create_schedule(
        self, schedules: NamedDependency[ScheduleService], data: JSONBody[ScheduleCreate]
    ) -> Schedule:
        """A new schedule (201)."""
        return await schedules.create(data, now=now())

    @delete("/{schedule_id:int}", guards=[requires("operator")], status_code=200)
    async def delete_schedule(
        self, schedules: NamedDependency[ScheduleService], schedule_id: RowId
    ) -> Schedule:
        """Delete a schedule."""
        return await schedules.delete(schedule_id)
