"""The device's key pair, generated on the technician's laptop; the private key stays in the bundle.

EC P-256 by default: every TLS stack a gateway may run (OpenSSL, mbedTLS on an ESP32) can use
it for a client certificate. Ed25519 is there for brokers and devices that prefer it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

KeyType = Literal["ec-p256", "ed25519"]


@dataclass(frozen=True, kw_only=True, repr=False)
class DeviceKey:
    """A private key (PKCS#8 PEM) and its public half (SubjectPublicKeyInfo PEM)."""

    private_pem: bytes
    public_pem: str

    def __repr__(self) -> str:
        """Never show the private key, even in a traceback."""
        return f"DeviceKey(fingerprint={self.fingerprint})"

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the public key, 16 hex digits: names the key in logs and queued claims."""
        return hashlib.sha256(self.public_pem.encode()).hexdigest()[:16]


def generate_key(key_type: KeyType = "ec-p256") -> DeviceKey:
    """A fresh key pair."""
    private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    private = (
        ec.generate_private_key(ec.SECP256R1())
        if key_type == "ec-p256"
        else (ed25519.Ed25519PrivateKey.generate())
    )
    return _from_private(private)


def load_key(private_pem: bytes) -> DeviceKey:
    """A key pair from a stored private key (a queued claim resumed later)."""
    private = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise TypeError("the stored device key is neither EC nor Ed25519")
    return _from_private(private)


def _from_private(private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> DeviceKey:
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DeviceKey(private_pem=private_pem, public_pem=public_pem.decode())
