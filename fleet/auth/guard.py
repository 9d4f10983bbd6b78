"""THE guard of the fleet API: authenticate a bearer key (or the dashboard cookie), check the
route's role, and hand the principal to controllers as the `principal` dependency.

Every controller uses `requires(role)`; services then filter by `principal.covers(group)`,
answering 404 for things outside the caller's subtree (their existence is not revealed).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from litestar.connection import ASGIConnection, Request
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.auth.principal import Principal, Role
from fleet.db.operations import ApiKey

SESSION_COOKIE = "pk_session"
KEY_PREFIX = "pk_"
_SCOPE_KEY = "polekit.principal"
ROOT = Principal(key_id="admin-key", name="bootstrap admin", role="admin", scope="")

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def hash_key(key: str) -> str:
    """What the database keeps of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The key from `Authorization: Bearer ...`, else from the dashboard's session cookie."""
    scheme, _sep, value = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    cookie = connection.cookies.get(SESSION_COOKIE)
    return cookie or None


async def resolve_key(
    key: str, *, sessions: async_sessionmaker[AsyncSession], admin_key: str | None
) -> Principal | None:
    """The principal a key stands for, or None for an unknown, malformed or revoked key."""
    if admin_key and _same(key, admin_key):
        return ROOT
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    key_id = key[len(KEY_PREFIX) :].split("_", 1)[0]
    async with sessions() as session:
        row = await session.scalar(
            select(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        )
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        return None
    return Principal(key_id=row.id, name=row.name, role=row.role, scope=row.scope)  # type: ignore[arg-type]


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """Resolve (once per request) who is calling; None when no valid key was presented."""
    if _SCOPE_KEY in connection.scope:
        cached: Principal | None = connection.scope[_SCOPE_KEY]  # type: ignore[literal-required]
        return cached
    key = presented_key(connection)
    state: State = connection.app.state
    principal = None
    if key is not None:
        principal = await resolve_key(
            key, sessions=state.sessions, admin_key=state.get("admin_key")
        )
    connection.scope[_SCOPE_KEY] = principal  # type: ignore[literal-required]
    return principal


def requires(role: Role) -> Guard:
    """A route guard: 401 without a valid key, 403 when the key's role is below `role`."""

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
    ) -> None:
        principal = await authenticate(connection)
        if principal is None:
            raise NotAuthorizedException(
                "send 'Authorization: Bearer <API key>' (ask a fleet admin for a key)"
            )
        if not principal.at_least(role):
            raise PermissionDeniedException(f"this needs the {role} role")

    guard.__name__ = f"requires_{role}"
    return guard


async def fleet_wide(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """A guard for fleet-wide resources (config layers, rollouts): 403 for a scoped key."""
    principal = await authenticate(connection)
    if principal is None:
        raise NotAuthorizedException("send 'Authorization: Bearer <API key>'")
    if principal.scope:
        raise PermissionDeniedException("this resource is fleet-wide: it needs a fleet-wide key")


def current_principal(scope: Any) -> Principal | None:
    """The principal a guard resolved for this ASGI scope (the audit trail reads it)."""
    found = scope.get(_SCOPE_KEY) if isinstance(scope, dict) else None
    return found if isinstance(found, Principal) else None


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The `principal` dependency: set by the route's guard, which every controller has."""
    principal = current_principal(request.scope)
    if principal is None:  # a route without `requires(...)`: a bug, refuse rather than leak
        raise NotAuthorizedException("authentication required")
    return principal


def now() -> datetime:
    """Aware UTC now (one place, so services stay testable)."""
    return datetime.now(UTC)


def _same(presented: str, expected: str) -> bool:
    """Constant-time comparison of digests, so neither content nor length leaks."""
    return hmac.compare_digest(
        hashlib.sha256(presented.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )
