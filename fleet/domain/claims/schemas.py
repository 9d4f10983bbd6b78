"""Claim API schemas (msgspec): Claim, ClaimCreate, ClaimCreated, ClaimPage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

GROUP_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}(/[a-z0-9][a-z0-9-]{0,62}){0,3}$"
GroupPath = Annotated[
    str,
    Meta(
        pattern=GROUP_PATTERN,
        max_length=200,
        examples=["chengdu/wuhou/street-7"],
        description="city/district/street path, lower-case [a-z0-9-] segments, 1 to 4 levels",
    ),
]
MAX_TTL_S = 90 * 86400


class ClaimCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Create a claim token for one group."""

    group: GroupPath
    ttl_s: Annotated[int, Meta(ge=60, le=MAX_TTL_S)] = 86400
    max_uses: Annotated[int, Meta(ge=1, le=10_000)] = 1


class Claim(msgspec.Struct, kw_only=True):
    """A claim as stored (the token is shown on creation and in its QR code only)."""

    id: str
    group: str
    expires_at: datetime
    max_uses: int
    uses: int
    created_at: datetime
    revoked_at: datetime | None
    state: str
    """active, expired, exhausted or revoked."""


class ClaimCreated(msgspec.Struct, kw_only=True):
    """A new claim with its token: hand the token (or its QR code) to the technician."""

    id: str
    token: str
    group: str
    expires_at: datetime
    max_uses: int
    uses: int


class ClaimPage(msgspec.Struct, kw_only=True):
    """Claims, newest first."""

    items: list[Claim]
    total: int
    limit: int
    offset: int
