"""Device lifecycle after enrollment: revoke, rekey, replace (RMA), decommission."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.db.provisioning import DeviceIdentity as IdentityRow
from fleet.db.provisioning import Pole
from fleet.domain.enrollment.bundles import BundleIssuer
from fleet.domain.enrollment.schemas import (
    Bundle,
    DeviceIdentity,
    PoleInfo,
    RekeyRequest,
    ReplaceRequest,
)
from fleet.domain.enrollment.services import parse_key, record
from fleet.domain.errors import ConflictError, NotFoundError

log = logging.getLogger("fleet.enrollment")


class LifecycleService:
    """Changes to an enrolled device's identity and broker account (admin only)."""

    def __init__(self, session: AsyncSession, issuer: BundleIssuer) -> None:
        self._session = session
        self._issuer = issuer

    async def get(self, device_id: str) -> DeviceIdentity:
        """The device's identity, pole and status."""
        return await self._view(await self._load(device_id))

    async def revoke(self, device_id: str, *, now: datetime) -> DeviceIdentity:
        """Cut the device off: its broker account goes, its live session is kicked."""
        row = await self._load(device_id, allow_decommissioned=False)
        if row.status != "revoked":
            row.status = "revoked"
            row.revoked_at = now
            record(self._session, device_id, "revoked", now)
            await self._session.commit()
        await self._issuer.withdraw(device_id)  # after the commit: a repeat retries only this
        log.info("device %s revoked", device_id)
        return await self._view(row)

    async def rekey(self, device_id: str, data: RekeyRequest, *, now: datetime) -> Bundle:
        """New broker credentials (and key, if given); the old ones stop working at once."""
        row = await self._load(device_id, allow_decommissioned=False)
        if data.public_key is not None:
            key = parse_key(data.public_key)
            row.public_key_pem, row.key_fingerprint = key.pem, key.fingerprint
            row.key_algorithm = key.algorithm
        row.status, row.revoked_at = "active", None
        row.credentials_issued_at = now
        record(self._session, device_id, "rekeyed", now, new_key=str(data.public_key is not None))
        return await self._issue(device_id)

    async def replace(self, device_id: str, data: ReplaceRequest, *, now: datetime) -> Bundle:
        """RMA: new hardware takes over the device id, pole, config and history."""
        row = await self._load(device_id, allow_decommissioned=False)
        key = parse_key(data.public_key)
        if data.serial != row.serial:
            taken = await self._session.scalar(
                select(IdentityRow).where(IdentityRow.serial == data.serial)
            )
            if taken is not None:
                raise ConflictError(
                    f"serial {data.serial} is already enrolled as device {taken.device_id}: "
                    f"decommission {taken.device_id} first if that gateway is now the spare",
                    code="serial_taken",
                )
        old_serial = row.serial
        row.serial = data.serial
        row.public_key_pem, row.key_fingerprint = key.pem, key.fingerprint
        row.key_algorithm = key.algorithm
        row.status, row.revoked_at = "active", None
        row.credentials_issued_at = now
        record(self._session, device_id, "replaced", now, old_serial=old_serial, serial=data.serial)
        return await self._issue(device_id)

    async def decommission(self, device_id: str, *, now: datetime) -> DeviceIdentity:
        """Take the device out of service: account removed, pole freed, history kept."""
        row = await self._load(device_id)
        if row.status != "decommissioned":
            pole = await self._session.scalar(select(Pole).where(Pole.device_id == device_id))
            if pole is not None:
                pole.device_id = None
                pole.updated_at = now
            row.status = "decommissioned"
            row.decommissioned_at = now
            record(self._session, device_id, "decommissioned", now, pole=row.pole_id or "")
            await self._session.commit()
        await self._issuer.withdraw(device_id)  # after the commit: a repeat retries only this
        log.info("device %s decommissioned", device_id)
        return await self._view(row)

    async def _issue(self, device_id: str) -> Bundle:
        await self._session.flush()
        try:
            bundle = await self._issuer.issue(device_id)
        except Exception:
            await self._session.rollback()
            raise
        await self._session.commit()
        return bundle

    async def _load(self, device_id: str, *, allow_decommissioned: bool = True) -> IdentityRow:
        row = await self._session.get(IdentityRow, device_id)
        if row is None:
            raise NotFoundError(f"no enrolled device {device_id!r}", code="device_unknown")
        if row.status == "decommissioned" and not allow_decommissioned:
            raise ConflictError(
                f"device {device_id} is decommissioned: enroll the gateway again with a claim",
                code="device_decommissioned",
            )
        return row

    async def _view(self, row: IdentityRow) -> DeviceIdentity:
        pole = await self._session.get(Pole, row.pole_id) if row.pole_id else None
        return to_schema(row, pole)


def to_schema(row: IdentityRow, pole: Pole | None) -> DeviceIdentity:
    """The API view of a device identity."""
    return DeviceIdentity(
        device_id=row.device_id,
        serial=row.serial,
        key_fingerprint=row.key_fingerprint,
        key_algorithm=row.key_algorithm,
        group=row.group_path,
        pole=None
        if pole is None
        else PoleInfo(
            pole_id=pole.id, lat=pole.lat, lon=pole.lon, street=pole.street, district=pole.district
        ),
        status=row.status,
        claim_id=row.claim_id,
        enrolled_at=row.enrolled_at,
        credentials_issued_at=row.credentials_issued_at,
        revoked_at=row.revoked_at,
        decommissioned_at=row.decommissioned_at,
    )
