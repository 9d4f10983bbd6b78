"""HTTP routes of rollouts: preview, create, progress, pause/resume/abort, per-device cancel."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.guard import fleet_wide, requires
from fleet.domain.configs.controllers import ADMIN, actor_of, audit_refusal, base_config
from fleet.domain.configs.services import ConfigService
from fleet.domain.errors import DomainError
from fleet.domain.params import MAX_ROW_ID, RowId
from fleet.domain.rollouts.schemas import (
    DeviceProgress,
    Preview,
    PreviewRequest,
    Rollout,
    RolloutCreate,
)
from fleet.domain.rollouts.services import RolloutService


class ReasonBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An optional reason for pause and abort (shown on the rollout and in the audit log)."""

    reason: str | None = None


async def provide_rollout_service(
    db_session: NamedDependency[AsyncSession], state: State
) -> RolloutService:
    """The rollout service for this request."""
    return RolloutService(db_session, ConfigService(db_session, base_config(state)))


def _kick(state: State) -> None:
    engine = state.get("rollout_engine")
    if engine is not None:
        engine.kick()


class RolloutController(Controller):
    """Staged, health-gated rollouts of the current config layers."""

    path = "/api/v1/rollouts"
    tags = ["rollouts"]
    guards = [requires("viewer"), fleet_wide]
    dependencies = {"rollouts": Provide(provide_rollout_service)}

    @post("/preview", status_code=200)
    async def preview(
        self, rollouts: NamedDependency[RolloutService], data: JSONBody[PreviewRequest]
    ) -> Preview:
        """What a rollout to this target would change, e.g. '1,204 devices: poll 10s → 5s'."""
        return await rollouts.preview(data.target)

    @post("/", guards=ADMIN)
    async def create(
        self,
        rollouts: NamedDependency[RolloutService],
        data: JSONBody[RolloutCreate],
        request: Request[Any, Any, Any],
        state: State,
    ) -> Rollout:
        """Start a rollout (201); 400 names the device and field a config would fail on."""
        try:
            created = await rollouts.create(data, actor=actor_of(request))
        except DomainError as exc:
            await audit_refusal(state, request, "rollout.create", exc)
            raise
        _kick(state)
        return created

    @get("/")
    async def list_rollouts(
        self,
        rollouts: NamedDependency[RolloutService],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_ROW_ID)] = 0,
    ) -> list[Rollout]:
        """Newest rollouts first, with per-stage progress."""
        return await rollouts.list_rollouts(limit=limit, offset=offset)

    @get("/{rollout_id:int}")
    async def get_rollout(
        self, rollouts: NamedDependency[RolloutService], rollout_id: RowId
    ) -> Rollout:
        """One rollout: state, reason, per-stage counts by status."""
        return await rollouts.get(rollout_id)

    @get("/{rollout_id:int}/devices")
    async def devices(
        self,
        rollouts: NamedDependency[RolloutService],
        rollout_id: RowId,
        status: Annotated[str | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1000,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_ROW_ID)] = 0,
    ) -> list[DeviceProgress]:
        """The rollout's devices and where each one is."""
        return await rollouts.devices(rollout_id, status=status, limit=limit, offset=offset)

    @post("/{rollout_id:int}/pause", guards=ADMIN, status_code=200)
    async def pause(
        self,
        rollouts: NamedDependency[RolloutService],
        rollout_id: RowId,
        request: Request[Any, Any, Any],
        state: State,
        data: JSONBody[ReasonBody | None] = None,
    ) -> Rollout:
        """Start no further stages until resumed."""
        try:
            return await rollouts.pause(
                rollout_id, actor=actor_of(request), reason=data.reason if data else None
            )
        except DomainError as exc:
            await audit_refusal(state, request, "rollout.pause", exc)
            raise

    @post("/{rollout_id:int}/resume", guards=ADMIN, status_code=200)
    async def resume(
        self,
        rollouts: NamedDependency[RolloutService],
        rollout_id: RowId,
        request: Request[Any, Any, Any],
        state: State,
    ) -> Rollout:
        """Continue a paused rollout."""
        try:
            resumed = await rollouts.resume(rollout_id, actor=actor_of(request))
        except DomainError as exc:
            await audit_refusal(state, request, "rollout.resume", exc)
            raise
        _kick(state)
        return resumed

    @post("/{rollout_id:int}/abort", guards=ADMIN, status_code=200)
    async def abort(
        self,
        rollouts: NamedDependency[RolloutService],
        rollout_id: RowId,
        request: Request[Any, Any, Any],
        state: State,
        data: JSONBody[ReasonBody | None] = None,
    ) -> Rollout:
        """Stop and send every touched device a signed rollback to its previous config."""
        try:
            aborted = await rollouts.abort(
                rollout_id, actor=actor_of(request), reason=data.reason if data else None
            )
        except DomainError as exc:
            await audit_refusal(state, request, "rollout.abort", exc)
            raise
        _kick(state)
        return aborted

    @post("/{rollout_id:int}/devices/{device_id:str}/cancel", guards=ADMIN, status_code=204)
    async def cancel_device(
        self,
        rollouts: NamedDependency[RolloutService],
        rollout_id: RowId,
        device_id: FromPath[str],
        request: Request[Any, Any, Any],
        state: State,
    ) -> None:
        """Take one device out of the rollout (back to its previous config if it got the new)."""
        try:
            await rollouts.cancel_device(rollout_id, device_id, actor=actor_of(request))
        except DomainError as exc:
            await audit_refusal(state, request, "rollout.cancel_device", exc)
            raise
        _kick(state)
