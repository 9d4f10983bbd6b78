"""HTTP routes of the claims context (admin only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.domain.claims import qr
from fleet.domain.claims.schemas import Claim, ClaimCreate, ClaimCreated, ClaimPage
from fleet.domain.claims.services import ClaimService
from fleet.domain.enrollment.controllers import issuer
from fleet.domain.params import MAX_ROW_ID
from fleet.security.admin import require_admin


async def provide_claim_service(
    db_session: NamedDependency[AsyncSession], state: State
) -> ClaimService:
    """The claim service for this request's session and the fleet's keys."""
    return ClaimService(db_session, issuer(state).keys)


class ClaimController(Controller):
    """Create, list, print and revoke claim tokens."""

    path = "/api/v1/claims"
    tags = ["provisioning"]
    guards = [require_admin]
    dependencies = {"claims": Provide(provide_claim_service)}

    @post("/")
    async def create_claim(
        self, claims: NamedDependency[ClaimService], data: JSONBody[ClaimCreate]
    ) -> ClaimCreated:
        """A new claim token (201); the token is in this answer and in the QR code only."""
        return await claims.create(data, now=datetime.now(UTC))

    @get("/")
    async def list_claims(
        self,
        claims: NamedDependency[ClaimService],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_ROW_ID)] = 0,
    ) -> ClaimPage:
        """Claims, newest first, without their tokens."""
        return await claims.list(now=datetime.now(UTC), limit=limit, offset=offset)

    @get("/{claim_id:str}")
    async def get_claim(
        self, claims: NamedDependency[ClaimService], claim_id: FromPath[str]
    ) -> Claim:
        """One claim and its state (active, expired, exhausted, revoked)."""
        return await claims.get(claim_id, now=datetime.now(UTC))

    @delete("/{claim_id:str}", status_code=200)
    async def revoke_claim(
        self, claims: NamedDependency[ClaimService], claim_id: FromPath[str]
    ) -> Claim:
        """Revoke the token: nothing more enrolls with it; enrolled devices stay."""
        return await claims.revoke(claim_id, now=datetime.now(UTC))

    @get("/{claim_id:str}/qr.svg", media_type=qr.MEDIA_TYPES["svg"])
    async def claim_qr_svg(
        self, claims: NamedDependency[ClaimService], claim_id: FromPath[str]
    ) -> Response[bytes]:
        """The token as an SVG QR code."""
        return await _qr(claims, claim_id, "svg")

    @get("/{claim_id:str}/qr.png", media_type=qr.MEDIA_TYPES["png"])
    async def claim_qr_png(
        self, claims: NamedDependency[ClaimService], claim_id: FromPath[str]
    ) -> Response[bytes]:
        """The token as a PNG QR code."""
        return await _qr(claims, claim_id, "png")

    @get("/{claim_id:str}/qr.txt", media_type=qr.MEDIA_TYPES["txt"])
    async def claim_qr_txt(
        self, claims: NamedDependency[ClaimService], claim_id: FromPath[str]
    ) -> Response[bytes]:
        """The token as terminal block characters, followed by the token text."""
        return await _qr(claims, claim_id, "txt")


async def _qr(claims: ClaimService, claim_id: str, fmt: qr.QrFormat) -> Response[bytes]:
    body = await claims.qr_code(claim_id, fmt, now=datetime.now(UTC))
    return Response(body, media_type=qr.MEDIA_TYPES[fmt])
