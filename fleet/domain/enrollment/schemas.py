"""Enrollment API schemas (msgspec): EnrollRequest, Bundle, DeviceIdentity and lifecycle bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from fleet.domain.claims.schemas import GroupPath

Serial = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
        examples=["RPI4-10000000c3a1f2e7"],
        description="the gateway's hardware serial: letters, digits and . _ : - (1-64)",
    ),
]
PoleId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", examples=["WH-07-0042"])]
PublicKeyPem = Annotated[str, Meta(max_length=16_384, description="PEM public key or CSR")]
Text = Annotated[str, Meta(max_length=200)]


class PoleInfo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The pole asset a gateway is mounted on."""

    pole_id: PoleId
    lat: Annotated[float, Meta(ge=-90, le=90)] | None = None
    """WGS-84; None keeps what the fleet knows of the pole (if anything)."""
    lon: Annotated[float, Meta(ge=-180, le=180)] | None = None
    street: Text | None = None
    district: Text | None = None


class EnrollRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a technician's tool sends: the claim token, the gateway's serial and public key."""

    claim_token: Annotated[str, Meta(min_length=1, max_length=200)]
    serial: Serial
    public_key: PublicKeyPem
    pole: PoleInfo


class SigningKey(msgspec.Struct, kw_only=True):
    """The fleet's config-signing public key; devices trust configs it signed."""

    kid: str
    ed25519_b64: str


class Bundle(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Everything a gateway needs to join the fleet; fields that do not apply are left out."""

    device_id: str
    broker_urls: list[str]
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    """Only in this answer; the fleet keeps no copy (the broker keeps a salted hash)."""
    client_cert_pem: str | None = None
    ca_cert_pem: str | None = None
    config_signing_public_key: SigningKey
    initial_config: dict[str, Any]
    fleet_url: str | None = None


class RekeyRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Issue new credentials; send the new public key if the gateway made a new key pair."""

    public_key: PublicKeyPem | None = None


class ReplaceRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """RMA: a new gateway (serial + key) takes over the device, its pole, config and history."""

    serial: Serial
    public_key: PublicKeyPem


class DeviceIdentity(msgspec.Struct, kw_only=True):
    """Who a device is and where it stands in its lifecycle."""

    device_id: str
    serial: str
    key_fingerprint: str
    key_algorithm: str
    group: GroupPath
    pole: PoleInfo | None
    status: str
    """active, revoked or decommissioned."""
    claim_id: str
    enrolled_at: datetime
    credentials_issued_at: datetime
    revoked_at: datetime | None
    decommissioned_at: datetime | None
