"""Access API schemas (msgspec): ApiKey, ApiKeyCreate, ApiKeyCreated, AuditEntry pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

SCOPE_PATTERN = r"^([a-z0-9][a-z0-9-]{0,62}(/[a-z0-9][a-z0-9-]{0,62}){0,3})?$"
Scope = Annotated[
    str,
    Meta(
        pattern=SCOPE_PATTERN,
        max_length=200,
        examples=["chengdu/wuhou"],
        description='city/district/street subtree; "" is the whole fleet',
    ),
]
RoleName = Literal["viewer", "operator", "admin"]


class ApiKeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new key: at most the creator's role, inside the creator's scope."""

    name: Annotated[str, Meta(min_length=1, max_length=100)]
    role: RoleName
    scope: Scope


class ApiKey(msgspec.Struct, kw_only=True):
    """A key as stored (without the key)."""

    id: str
    name: str
    role: str
    scope: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(msgspec.Struct, kw_only=True):
    """The new key: `key` is shown in this answer only."""

    id: str
    name: str
    role: str
    scope: str
    key: str


class ApiKeyPage(msgspec.Struct, kw_only=True):
    """Keys inside the caller's scope, newest first."""

    items: list[ApiKey]


class Audit(msgspec.Struct, kw_only=True):
    """One mutating request."""

    id: int
    at: datetime
    actor: str
    role: str | None
    scope: str | None
    method: str
    path: str
    status: int
    remote: str | None


class AuditPage(msgspec.Struct, kw_only=True):
    """Audit rows, newest first."""

    items: list[Audit]


class Me(msgspec.Struct, kw_only=True):
    """Who the presented key is."""

    key_id: str
    name: str
    role: str
    scope: str
