"""Build the bundle a gateway gets at enrollment, rekey and replacement."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from fleet.domain.enrollment.broker import BrokerAccountError, BrokerAccounts
from fleet.domain.enrollment.schemas import Bundle, SigningKey
from fleet.domain.errors import UnavailableError
from fleet.security.keys import FleetKeys


@dataclass(frozen=True)
class BundleIssuer:
    """Mints broker credentials and wraps them with what the gateway must trust."""

    keys: FleetKeys
    broker: BrokerAccounts | None
    broker_urls: tuple[str, ...]
    ca_cert_pem: str | None = None
    fleet_url: str | None = None

    def require_broker(self) -> BrokerAccounts:
        """The broker accounts, or an error telling the technician why nothing can enroll."""
        if self.broker is None:
            raise UnavailableError(
                "this fleet has no broker admin account configured, so it cannot create "
                "gateway credentials: ask a fleet admin to start it with --broker-admin",
                code="broker_unconfigured",
            )
        return self.broker

    async def issue(self, device_id: str) -> Bundle:
        """Create (or replace) the device's broker account with a fresh password."""
        broker = self.require_broker()
        password = secrets.token_urlsafe(32)
        try:
            await broker.issue(device_id, password)
        except BrokerAccountError as exc:
            raise UnavailableError(
                f"the fleet could not create the gateway's broker account ({exc}); nothing "
                "was changed: try again in a minute, and tell a fleet admin if it persists",
                code="broker_unavailable",
            ) from None
        return Bundle(
            device_id=device_id,
            broker_urls=list(self.broker_urls),
            mqtt_username=device_id,
            mqtt_password=password,
            ca_cert_pem=self.ca_cert_pem,
            config_signing_public_key=SigningKey(
                kid=self.keys.kid, ed25519_b64=base64.b64encode(self.keys.public_key_raw).decode()
            ),
            initial_config=self.initial_config(device_id),
            fleet_url=self.fleet_url,
        )

    async def withdraw(self, device_id: str) -> None:
        """Delete the device's broker account, kicking a live session."""
        broker = self.require_broker()
        try:
            await broker.remove(device_id)
        except BrokerAccountError as exc:
            raise UnavailableError(
                f"the broker did not confirm removing {device_id}'s account ({exc}): "
                "the device is marked in the database; repeat the call until it succeeds",
                code="broker_unavailable",
            ) from None

    def initial_config(self, device_id: str) -> dict[str, Any]:
        """The agent config a gateway starts with (no secrets: those stay in the bundle)."""
        return {"device_id": device_id, "uplink": {"broker": self.broker_urls[0]}}
