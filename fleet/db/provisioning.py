"""Models of provisioning: claim tokens, device identities, poles and the lifecycle log.

Nothing secret is stored here: claim tokens only as SHA-256 hashes, device keys only as
public keys, broker passwords not at all (the broker keeps its own salted hash).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Double, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from fleet.db.models import Base, BigIntId, UtcDateTime


class Claim(Base):
    """A claim token: lets technicians enroll up to `max_uses` gateways into one group."""

    __tablename__ = "claim"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 hex of the token; the token itself is derived from a secret outside the DB."""
    group_path: Mapped[str] = mapped_column(String(200))
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Pole(Base):
    """A pole asset (or cabinet, pump station) a gateway is mounted on."""

    __tablename__ = "pole"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lat: Mapped[float | None] = mapped_column(Double)
    lon: Mapped[float | None] = mapped_column(Double)
    street: Mapped[str | None] = mapped_column(String(200))
    district: Mapped[str | None] = mapped_column(String(200))
    group_path: Mapped[str] = mapped_column(String(200))
    device_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    """The gateway on this pole now; None after a decommission."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeviceIdentity(Base):
    """Who a device is: its hardware serial, public key, group, pole and lifecycle status."""

    __tablename__ = "device_identity"

    device_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("device.id", name="fk_device_identity_device"), primary_key=True
    )
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 hex of the DER SubjectPublicKeyInfo."""
    key_algorithm: Mapped[str] = mapped_column(String(16))
    claim_id: Mapped[str] = mapped_column(String(32))
    group_path: Mapped[str] = mapped_column(String(200))
    pole_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    """active, revoked or decommissioned."""
    enrolled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    credentials_issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decommissioned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DeviceEvent(Base):
    """One lifecycle step of a device (enrolled, reissued, rekeyed, replaced, revoked, ...)."""

    __tablename__ = "device_event"
    __table_args__ = (Index("ix_device_event_device", "device_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
