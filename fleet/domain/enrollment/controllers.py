"""HTTP routes of enrollment (the claim token is the credential) and device lifecycle (admin)."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.domain.enrollment.bundles import BundleIssuer
from fleet.domain.enrollment.lifecycle import LifecycleService
from fleet.domain.enrollment.schemas import (
    Bundle,
    DeviceIdentity,
    EnrollRequest,
    RekeyRequest,
    ReplaceRequest,
)
from fleet.domain.enrollment.services import EnrollmentService
from fleet.domain.errors import UnavailableError
from fleet.security.admin import require_admin


async def provide_enrollment(
    db_session: NamedDependency[AsyncSession], state: State
) -> EnrollmentService:
    """The enrollment service for this request, with the fleet's issuer and rate limiter."""
    return EnrollmentService(db_session, issuer(state), state.enroll_limiter)


async def provide_lifecycle(
    db_session: NamedDependency[AsyncSession], state: State
) -> LifecycleService:
    """The lifecycle service for this request."""
    return LifecycleService(db_session, issuer(state))


def issuer(state: State) -> BundleIssuer:
    """The fleet's bundle issuer, or 503 when this fleet was started without provisioning."""
    found: BundleIssuer | None = state.get("bundle_issuer")
    if found is None:
        raise UnavailableError(
            "this fleet was started without provisioning (no keys directory or broker admin): "
            "ask a fleet admin to configure it (see docs/provisioning.md)",
            code="provisioning_unconfigured",
        )
    return found


class EnrollmentController(Controller):
    """POST /api/v1/enroll: no admin key; the claim token is the credential (rate-limited)."""

    path = "/api/v1/enroll"
    tags = ["provisioning"]
    dependencies = {"enrollment": Provide(provide_enrollment)}

    @post("/", status_code=200)
    async def enroll(
        self, enrollment: NamedDependency[EnrollmentService], data: JSONBody[EnrollRequest]
    ) -> Bundle:
        """Enroll a gateway and return its bundle; the same request again re-issues it."""
        return await enrollment.enroll(data, now=datetime.now(UTC))


class DeviceLifecycleController(Controller):
    """Revoke, rekey, replace (RMA) and decommission enrolled devices (admin only)."""

    path = "/api/v1/devices/{device_id:str}"
    tags = ["provisioning"]
    guards = [require_admin]
    dependencies = {"lifecycle": Provide(provide_lifecycle)}

    @get("/identity")
    async def identity(
        self, lifecycle: NamedDependency[LifecycleService], device_id: FromPath[str]
    ) -> DeviceIdentity:
        """Serial, key fingerprint, group, pole and lifecycle status."""
        return await lifecycle.get(device_id)

    @post("/revoke", status_code=200)
    async def revoke(
        self, lifecycle: NamedDependency[LifecycleService], device_id: FromPath[str]
    ) -> DeviceIdentity:
        """Remove the device's broker account and kick its session; returns once done."""
        return await lifecycle.revoke(device_id, now=datetime.now(UTC))

    @post("/rekey", status_code=200)
    async def rekey(
        self,
        lifecycle: NamedDependency[LifecycleService],
        device_id: FromPath[str],
        data: JSONBody[RekeyRequest],
    ) -> Bundle:
        """New credentials (and optionally a new device key); reactivates a revoked device."""
        return await lifecycle.rekey(device_id, data, now=datetime.now(UTC))

    @post("/replace", status_code=200)
    async def replace(
        self,
        lifecycle: NamedDependency[LifecycleService],
        device_id: FromPath[str],
        data: JSONBody[ReplaceRequest],
    ) -> Bundle:
        """RMA: a new serial and key take over this device's pole, config and history."""
        return await lifecycle.replace(device_id, data, now=datetime.now(UTC))

    @post("/decommission", status_code=200)
    async def decommission(
        self, lifecycle: NamedDependency[LifecycleService], device_id: FromPath[str]
    ) -> DeviceIdentity:
        """Take the device out of service: account removed, pole freed, history kept."""
        return await lifecycle.decommission(device_id, now=datetime.now(UTC))
