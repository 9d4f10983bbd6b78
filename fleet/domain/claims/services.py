"""Claim service: create, list, revoke claims and render their QR codes; domain errors only."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.db.provisioning import Claim as ClaimRow
from fleet.domain.claims import qr
from fleet.domain.claims.schemas import Claim, ClaimCreate, ClaimCreated, ClaimPage
from fleet.domain.errors import ConflictError, NotFoundError
from fleet.security.keys import FleetKeys, hash_token


class ClaimService:
    """Claims in one database session; tokens are derived from the fleet's claim secret."""

    def __init__(self, session: AsyncSession, keys: FleetKeys) -> None:
        self._session = session
        self._keys = keys

    async def create(self, data: ClaimCreate, *, now: datetime) -> ClaimCreated:
        """A new claim; the answer is the only place besides its QR code that holds the token."""
        claim_id = secrets.token_hex(8)
        token = self._keys.claim_token(claim_id)
        row = ClaimRow(
            id=claim_id,
            token_hash=hash_token(token),
            group_path=data.group,
            max_uses=data.max_uses,
            uses=0,
            expires_at=now + timedelta(seconds=data.ttl_s),
            created_at=now,
        )
        self._session.add(row)
        await self._session.commit()
        return ClaimCreated(
            id=row.id,
            token=token,
            group=row.group_path,
            expires_at=row.expires_at,
            max_uses=row.max_uses,
            uses=row.uses,
        )

    async def list(self, *, now: datetime, limit: int, offset: int) -> ClaimPage:
        """Claims, newest first."""
        rows = await self._session.scalars(
            select(ClaimRow)
            .order_by(ClaimRow.created_at.desc(), ClaimRow.id)
            .limit(limit)
            .offset(offset)
        )
        total = await self._session.scalar(select(func.count()).select_from(ClaimRow))
        return ClaimPage(
            items=[to_schema(row, now) for row in rows],
            total=total or 0,
            limit=limit,
            offset=offset,
        )

    async def get(self, claim_id: str, *, now: datetime) -> Claim:
        """One claim."""
        return to_schema(await self._load(claim_id), now)

    async def revoke(self, claim_id: str, *, now: datetime) -> Claim:
        """Stop the token from enrolling anything more; devices it enrolled stay enrolled."""
        row = await self._load(claim_id)
        if row.revoked_at is None:
            row.revoked_at = now
            await self._session.commit()
        return to_schema(row, now)

    async def qr_code(self, claim_id: str, fmt: qr.QrFormat, *, now: datetime) -> bytes:
        """The token as a QR code, for a claim that can still enroll."""
        row = await self._load(claim_id)
        state = claim_state(row, now)
        if state != "active":
            raise ConflictError(
                f"claim {claim_id} is {state}: create a new claim instead of printing this one",
                code=f"claim_{state}",
            )
        return qr.render(self._keys.claim_token(row.id), fmt)

    async def _load(self, claim_id: str) -> ClaimRow:
        row = await self._session.get(ClaimRow, claim_id)
        if row is None:
            raise NotFoundError(f"no claim {claim_id!r}", code="claim_unknown")
        return row


def claim_state(row: ClaimRow, now: datetime) -> str:
    """active, revoked, expired or exhausted (in that order of precedence, revoked first)."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    if row.uses >= row.max_uses:
        return "exhausted"
    return "active"


def to_schema(row: ClaimRow, now: datetime) -> Claim:
    """The API view of a claim row."""
    return Claim(
        id=row.id,
        group=row.group_path,
        expires_at=row.expires_at,
        max_uses=row.max_uses,
        uses=row.uses,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        state=claim_state(row, now),
    )
