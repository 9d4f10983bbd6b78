"""HTTP routes of config layers, memberships, effective config, explain and audit (admin)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.auth.guard import current_principal, fleet_wide, requires
from fleet.domain.configs import audit
from fleet.domain.configs.schemas import (
    AuditEntry,
    Effective,
    Explanation,
    Layer,
    LayerCreate,
    MembershipBatch,
)
from fleet.domain.configs.services import BaseConfig, ConfigService, default_base
from fleet.domain.errors import DomainError

ADMIN = [requires("admin")]
"""Changing configs and rollouts touches every gateway in the target: admin only."""


def actor_of(request: Request[Any, Any, Any]) -> str:
    """Who acts, as the audit log names them (the principal the route's guard resolved)."""
    principal = current_principal(request.scope)
    return principal.label[:64] if principal is not None else "unknown"


def base_config(state: State) -> BaseConfig:
    """The config devices start from: their bundle's initial config when provisioning is on."""
    issuer = state.get("bundle_issuer")
    if issuer is None:
        return default_base
    initial: BaseConfig = issuer.initial_config
    return initial


async def audit_refusal(
    state: State, request: Request[Any, Any, Any], action: str, exc: Exception
) -> None:
    """Record a refused action in the audit log (the request's own transaction is gone)."""
    sessions: async_sessionmaker[AsyncSession] = state.sessions
    async with sessions() as session:
        audit.record(
            session,
            actor=actor_of(request),
            action=action,
            target=request.url.path[:200],
            outcome="refused",
            detail={"error": str(exc)[:500]},
        )
        await session.commit()


async def provide_config_service(
    db_session: NamedDependency[AsyncSession], state: State
) -> ConfigService:
    """The config service for this request."""
    return ConfigService(db_session, base_config(state))


class ConfigController(Controller):
    """Layered config documents: fleet defaults, groups, device overrides."""

    path = "/api/v1/configs"
    tags = ["configs"]
    guards = [requires("viewer"), fleet_wide]
    dependencies = {"configs": Provide(provide_config_service)}

    @post("/layers", guards=ADMIN)
    async def add_layer(
        self,
        configs: NamedDependency[ConfigService],
        data: JSONBody[LayerCreate],
        request: Request[Any, Any, Any],
        state: State,
    ) -> Layer:
        """A new immutable layer revision (201); 400 names the field the agent would refuse."""
        try:
            return await configs.add_layer(data, actor=actor_of(request))
        except DomainError as exc:
            await audit_refusal(state, request, "config.layer.create", exc)
            raise

    @get("/layers")
    async def list_layers(
        self,
        configs: NamedDependency[ConfigService],
        layer_scope: Annotated[
            str | None, QueryParameter(name="scope", description="fleet, group or device")
        ] = None,
        target: Annotated[str | None, QueryParameter()] = None,
    ) -> list[Layer]:
        """Every layer revision, oldest first."""
        return await configs.list_layers(scope=layer_scope, target=target)

    @put("/memberships", guards=ADMIN)
    async def set_memberships(
        self,
        configs: NamedDependency[ConfigService],
        data: JSONBody[MembershipBatch],
        request: Request[Any, Any, Any],
    ) -> dict[str, int]:
        """Set the group and tags of many devices."""
        return {"devices": await configs.set_memberships(data.items, actor=actor_of(request))}

    @get("/devices/{device_id:str}/effective")
    async def effective(
        self, configs: NamedDependency[ConfigService], device_id: FromPath[str]
    ) -> Effective:
        """The config the device would get from the layers now."""
        return await configs.effective(device_id)

    @get("/devices/{device_id:str}/explain")
    async def explain(
        self,
        configs: NamedDependency[ConfigService],
        device_id: FromPath[str],
        key: Annotated[str, QueryParameter(description="e.g. health.interval")],
    ) -> Explanation:
        """Which layer one key's value comes from for this device."""
        return await configs.explain(device_id, key)

    @get("/audit", guards=ADMIN)
    async def audit_log(
        self,
        db_session: NamedDependency[AsyncSession],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        target: Annotated[str | None, QueryParameter(description="e.g. rollout/3")] = None,
    ) -> list[AuditEntry]:
        """Config and rollout actions, newest first (the engine's automatic ones too)."""
        rows = await audit.recent(db_session, limit=limit, target=target)
        return [msgspec.convert(row, AuditEntry, from_attributes=True) for row in rows]
