"""Test signer of desired-config envelopes (the fleet's role), with cryptography's Ed25519."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.core import signed

DEVICE = "pole-ota-1"


@dataclass
class Signer:
    """One Ed25519 key with a key id."""

    kid: str = "fleet-test"
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def public(self) -> bytes:
        """The raw 32-byte public key."""
        return self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def keys(self) -> dict[str, bytes]:
        """The trust root a device gets from its bundle."""
        return {self.kid: self.public}

    def envelope(
        self,
        version: int,
        config: dict[str, Any],
        *,
        rollback: bool = False,
        issued_at: float | None = None,
    ) -> bytes:
        """A signed envelope of one config document."""
        doc = signed.encode_doc(version, config, issued_at or time.time(), rollback)
        return signed.encode_envelope(doc, self.kid, self.key.sign)


def config(poll: str = "10s", interval: str = "30s") -> dict[str, Any]:
    """A small valid agent config for DEVICE."""
    return {
        "device_id": DEVICE,
        "health": {"interval": interval},
        "buses": [
            {
                "name": "lan",
                "modbus_tcp": {"host": "127.0.0.1", "port": 1502},
                "devices": [{"name": "meter", "driver": "eastron_sdm120", "poll": poll}],
            }
        ],
    }
