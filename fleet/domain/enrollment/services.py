"""Enrollment service: a claim token, a serial and a public key become a trusted device."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.db import models
from fleet.db.provisioning import Claim, DeviceEvent, DeviceIdentity, Pole
from fleet.domain.claims.services import claim_state
from fleet.domain.enrollment.bundles import BundleIssuer
from fleet.domain.enrollment.device_ids import device_id_for
from fleet.domain.enrollment.schemas import Bundle, EnrollRequest, PoleInfo
from fleet.domain.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    RateLimitedError,
    UnauthorizedError,
)
from fleet.security.device_keys import BadKeyError, DevicePublicKey, parse_device_key
from fleet.security.keys import hash_token
from fleet.security.ratelimit import RateLimiter

log = logging.getLogger("fleet.enrollment")

ASK_ADMIN = "ask a fleet admin for a new claim (polekit fleet claims create)"


class EnrollmentService:
    """Enrolls gateways in one database session."""

    def __init__(self, session: AsyncSession, issuer: BundleIssuer, limiter: RateLimiter) -> None:
        self._session = session
        self._issuer = issuer
        self._limiter = limiter

    async def enroll(self, data: EnrollRequest, *, now: datetime) -> Bundle:
        """Register the gateway and mint its credentials; the same request again re-issues them."""
        token_hash = hash_token(data.claim_token)
        wait_s = self._limiter.hit(token_hash)
        if wait_s is not None:
            raise RateLimitedError(
                f"too many enrollment attempts with this claim token: wait {wait_s:.0f} s, "
                "then try again",
                retry_after_s=wait_s,
            )
        claim = await self._session.scalar(select(Claim).where(Claim.token_hash == token_hash))
        if claim is None:
            raise UnauthorizedError(
                "this claim token is not known to the fleet: check it was copied completely "
                f"(scan the QR code again), or {ASK_ADMIN}",
                code="claim_unknown",
            )
        _check_usable(claim, now, allow_exhausted=True)  # a retry needs no free use
        key = parse_key(data.public_key)
        self._issuer.require_broker()
        identity = await self._session.scalar(
            select(DeviceIdentity).where(DeviceIdentity.serial == data.serial)
        )
        if identity is not None:
            return await self._retry(identity, claim, key, data, now=now)
        device_id = await self._free_device_id(data.serial)
        await self._use(claim, now)
        await _bind_pole(self._session, data.pole, device_id, claim.group_path, now=now)
        device = await self._session.get(models.Device, device_id)
        if device is None:
            device = models.Device(id=device_id, created_at=now)
            self._session.add(device)
        device.registered = True
        device.description = device.description or f"pole {data.pole.pole_id}"
        self._session.add(
            DeviceIdentity(
                device_id=device_id,
                serial=data.serial,
                public_key_pem=key.pem,
                key_fingerprint=key.fingerprint,
                key_algorithm=key.algorithm,
                claim_id=claim.id,
                group_path=claim.group_path,
                pole_id=data.pole.pole_id,
                status="active",
                enrolled_at=now,
                credentials_issued_at=now,
            )
        )
        record(self._session, device_id, "enrolled", now, serial=data.serial, claim=claim.id)
        return await self._commit_with_bundle(device_id, data.serial)

    async def _retry(
        self,
        identity: DeviceIdentity,
        claim: Claim,
        key: DevicePublicKey,
        data: EnrollRequest,
        *,
        now: datetime,
    ) -> Bundle:
        """The same (token, serial, key) again: re-issue; anything else is a taken serial."""
        same = identity.claim_id == claim.id and identity.key_fingerprint == key.fingerprint
        if not same or identity.status != "active":
            raise ConflictError(_serial_taken(identity), code="serial_taken")
        await _bind_pole(self._session, data.pole, identity.device_id, claim.group_path, now=now)
        identity.pole_id = data.pole.pole_id
        identity.credentials_issued_at = now
        record(self._session, identity.device_id, "reissued", now, claim=claim.id)
        return await self._commit_with_bundle(identity.device_id, data.serial)

    async def _commit_with_bundle(self, device_id: str, serial: str) -> Bundle:
        """Flush, mint the broker account, then commit; a broker failure rolls back."""
        try:
            await self._session.flush()
        except IntegrityError:
            await self._session.rollback()
            raise ConflictError(
                f"gateway serial {serial} was enrolled by another request just now: "
                "run the enrollment again to get its bundle",
                code="serial_taken",
            ) from None
        try:
            bundle = await self._issuer.issue(device_id)
        except Exception:
            await self._session.rollback()
            raise
        await self._session.commit()
        log.info("device %s enrolled (serial %s)", device_id, serial)
        return bundle

    async def _use(self, claim: Claim, now: datetime) -> None:
        """Count one use, atomically: concurrent enrollments can never exceed max_uses."""
        result = await self._session.execute(
            update(Claim)
            .where(
                Claim.id == claim.id,
                Claim.uses < Claim.max_uses,
                Claim.revoked_at.is_(None),
                Claim.expires_at > now,
            )
            .values(uses=Claim.uses + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            await self._session.refresh(claim)
            _check_usable(claim, now, allow_exhausted=False)
            raise ForbiddenError(_exhausted(claim), code="claim_exhausted")

    async def _free_device_id(self, serial: str) -> str:
        """The serial's device id, or its next variant if an RMA gave that id to other hardware."""
        for attempt in range(100):
            candidate = device_id_for(serial, attempt=attempt)
            if await self._session.get(DeviceIdentity, candidate) is None:
                return candidate
        raise ConflictError(f"no free device id for serial {serial}", code="serial_taken")


def _check_usable(claim: Claim, now: datetime, *, allow_exhausted: bool) -> None:
    state = claim_state(claim, now)
    if state == "revoked":
        raise ForbiddenError(
            f"this claim token was revoked by a fleet admin: {ASK_ADMIN}", code="claim_revoked"
        )
    if state == "expired":
        raise ForbiddenError(
            f"this claim token expired at {claim.expires_at:%Y-%m-%d %H:%M} UTC: {ASK_ADMIN}",
            code="claim_expired",
        )
    if state == "exhausted" and not allow_exhausted:
        raise ForbiddenError(_exhausted(claim), code="claim_exhausted")


def _exhausted(claim: Claim) -> str:
    return (
        f"this claim token has enrolled its {claim.max_uses} gateway(s) already: "
        f"{ASK_ADMIN}, or one with more uses"
    )


def _serial_taken(identity: DeviceIdentity) -> str:
    device = identity.device_id
    if identity.status == "decommissioned":
        return (
            f"gateway serial {identity.serial} belonged to device {device}, which was "
            "decommissioned: ask a fleet admin to enroll it again under a new claim"
        )
    return (
        f"gateway serial {identity.serial} is already enrolled as device {device} with another "
        f"key or claim: if the gateway was re-flashed, ask a fleet admin to rekey {device}; "
        f"if it replaces a broken gateway, use the RMA flow (replace {device})"
    )


def parse_key(text: str) -> DevicePublicKey:
    """The device key, or a bad_key error telling the technician what to send."""
    try:
        return parse_device_key(text)
    except BadKeyError as exc:
        raise InvalidInputError(str(exc), code="bad_key") from None


async def _bind_pole(
    session: AsyncSession, info: PoleInfo, device_id: str, group: str, *, now: datetime
) -> None:
    """Put the device on the pole (creating or updating the pole asset)."""
    pole = await session.get(Pole, info.pole_id)
    if pole is not None and pole.device_id not in (None, device_id):
        raise ConflictError(
            f"pole {info.pole_id} already carries gateway {pole.device_id}: to swap its "
            f"hardware use the RMA flow (replace {pole.device_id}); to move it, ask a fleet "
            f"admin to decommission {pole.device_id} first",
            code="pole_taken",
        )
    previous = await session.scalar(select(Pole).where(Pole.device_id == device_id))
    if previous is not None and previous.id != info.pole_id:
        previous.device_id = None  # the gateway moved to another pole
        await session.flush()
    if pole is None:
        pole = Pole(id=info.pole_id)
        session.add(pole)
    if info.lat is not None and info.lon is not None:
        pole.lat, pole.lon = info.lat, info.lon
    pole.street = info.street or pole.street
    pole.district = info.district or pole.district
    pole.group_path = group
    pole.device_id = device_id
    pole.updated_at = now


def record(session: AsyncSession, device_id: str, kind: str, at: datetime, **detail: str) -> None:
    """Append a lifecycle event (never with secrets in it)."""
    session.add(DeviceEvent(device_id=device_id, kind=kind, at=at, detail=detail or None))
