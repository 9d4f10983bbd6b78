"""API keys and the audit log; raises domain errors only."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.auth.guard import KEY_PREFIX, hash_key
from fleet.auth.principal import Principal, covers, outranks
from fleet.db.operations import ApiKey as ApiKeyRow
from fleet.db.operations import AuditEntry
from fleet.domain.access.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated, Audit, AuditPage
from fleet.domain.errors import ForbiddenError, NotFoundError


class AccessService:
    """API keys and audit rows in one session, always seen through a principal's scope."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create_key(
        self, data: ApiKeyCreate, *, by: Principal, now: datetime
    ) -> ApiKeyCreated:
        """A new key no stronger and no wider than its creator's."""
        if not outranks(by.role, data.role):
            raise ForbiddenError(f"an {by.role} cannot grant the {data.role} role")
        if not covers(by.scope, data.scope) or (by.scope and not data.scope):
            raise ForbiddenError(f"scope {data.scope!r} is outside your scope {by.scope!r}")
        key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"
        self._session.add(
            ApiKeyRow(
                id=key_id,
                name=data.name,
                key_hash=hash_key(key),
                role=data.role,
                scope=data.scope,
                created_by=by.label,
                created_at=now,
            )
        )
        await self._session.commit()
        return ApiKeyCreated(id=key_id, name=data.name, role=data.role, scope=data.scope, key=key)

    async def list_keys(self, *, by: Principal) -> list[ApiKey]:
        """Keys whose scope lies inside the caller's."""
        rows = await self._session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at.desc()))
        return [_key(row) for row in rows if covers(by.scope, row.scope) or by.scope == ""]

    async def revoke_key(self, key_id: str, *, by: Principal, now: datetime) -> ApiKey:
        """Revoke a key inside the caller's scope; 404 for one outside it."""
        row = await self._session.get(ApiKeyRow, key_id)
        if row is None or not (by.scope == "" or covers(by.scope, row.scope)):
            raise NotFoundError(f"no API key {key_id!r}")
        if row.revoked_at is None:
            row.revoked_at = now
            await self._session.commit()
        return _key(row)

    async def audit(self, *, by: Principal, limit: int, before: int | None) -> AuditPage:
        """Audit rows of callers inside the caller's scope, newest first."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc())
        if before is not None:
            query = query.where(AuditEntry.id < before)
        if by.scope:
            query = query.where(
                (AuditEntry.scope == by.scope) | AuditEntry.scope.startswith(by.scope + "/")
            )
        rows = await self._session.scalars(query.limit(limit))
        return AuditPage(items=[_audit(row) for row in rows])


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        role=row.role,
        scope=row.scope,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _audit(row: AuditEntry) -> Audit:
    return Audit(
        id=row.id,
        at=row.at,
        actor=row.actor,
        role=row.role,
        scope=row.scope,
        method=row.method,
        path=row.path,
        status=row.status,
        remote=row.remote,
    )
