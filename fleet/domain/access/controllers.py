"""HTTP routes of the access context: who am I, API keys (admin), the audit log (admin)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.guard import now, requires
from fleet.auth.principal import Principal
from fleet.domain.access.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated, AuditPage, Me
from fleet.domain.access.services import AccessService
from fleet.domain.params import MAX_ROW_ID, TokenId


async def provide_access(db_session: NamedDependency[AsyncSession]) -> AccessService:
    """The access service for this request's session."""
    return AccessService(db_session)


class AccessController(Controller):
    """Keys and audit: admins manage keys inside their own subtree."""

    path = "/api/v1/access"
    tags = ["access"]
    guards = [requires("viewer")]
    dependencies = {"access": Provide(provide_access)}

    @get("/me")
    async def me(self, principal: NamedDependency[Principal]) -> Me:
        """The role and scope of the presented key."""
        return Me(
            key_id=principal.key_id, name=principal.name, role=principal.role, scope=principal.scope
        )

    @post("/keys", guards=[requires("admin")])
    async def create_key(
        self,
        access: NamedDependency[AccessService],
        principal: NamedDependency[Principal],
        data: JSONBody[ApiKeyCreate],
    ) -> ApiKeyCreated:
        """A new key (201), shown once; 403 beyond the creator's role or scope."""
        return await access.create_key(data, by=principal, now=now())

    @get("/keys", guards=[requires("admin")])
    async def list_keys(
        self, access: NamedDependency[AccessService], principal: NamedDependency[Principal]
    ) -> list[ApiKey]:
        """Keys inside the caller's scope."""
        return await access.list_keys(by=principal)

    @delete("/keys/{key_id:str}", guards=[requires("admin")], status_code=200)
    async def revoke_key(
        self,
        access: NamedDependency[AccessService],
        principal: NamedDependency[Principal],
        key_id: TokenId,
    ) -> ApiKey:
        """Revoke a key: it stops working at once."""
        return await access.revoke_key(key_id, by=principal, now=now())

    @get("/audit", guards=[requires("admin")])
    async def audit(
        self,
        access: NamedDependency[AccessService],
        principal: NamedDependency[Principal],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        before: Annotated[
            int | None, QueryParameter(ge=1, le=MAX_ROW_ID, description="id of the oldest seen")
        ] = None,
    ) -> AuditPage:
        """Mutating requests by callers inside the caller's scope, newest first."""
        return await access.audit(by=principal, limit=limit, before=before)
