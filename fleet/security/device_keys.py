"""Parse what a device sends as its identity: a public key PEM or a CSR PEM, never a secret."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

MAX_PEM_BYTES = 16_384
MIN_RSA_BITS = 2048


class BadKeyError(ValueError):
    """The key cannot be used; the message says what to send instead."""


@dataclass(frozen=True)
class DevicePublicKey:
    """A device's public key, normalised to a SubjectPublicKeyInfo PEM."""

    pem: str
    fingerprint: str
    """SHA-256 hex of the DER SubjectPublicKeyInfo: equal keys, equal fingerprints."""
    algorithm: str
    """ed25519, ec-p256, ec-p384 or rsa."""


def parse_device_key(text: str) -> DevicePublicKey:
    """Accept a PUBLIC KEY or a signed CERTIFICATE REQUEST PEM; refuse private keys loudly."""
    if len(text) > MAX_PEM_BYTES:
        raise BadKeyError("the public key is too large: send one PEM public key or CSR")
    if "PRIVATE KEY" in text:
        raise BadKeyError(
            "this is a PRIVATE key: it must never leave the gateway. Send the public key "
            "(`openssl pkey -pubout`) or a CSR instead, and generate a new key pair, since "
            "this one has now been exposed"
        )
    data = text.strip().encode()
    if b"CERTIFICATE REQUEST" in data:
        public_key = _from_csr(data)
    else:
        try:
            public_key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError):
            raise BadKeyError(
                "public_key is not a PEM public key or CSR: send the gateway's key as "
                "'-----BEGIN PUBLIC KEY-----' PEM (or a CSR)"
            ) from None
    algorithm = _algorithm(public_key)
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return DevicePublicKey(
        pem=pem, fingerprint=hashlib.sha256(der).hexdigest(), algorithm=algorithm
    )


def _from_csr(data: bytes) -> PublicKeyTypes:
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError:
        raise BadKeyError("the CSR does not parse: generate it again on the gateway") from None
    if not csr.is_signature_valid:
        raise BadKeyError("the CSR's signature is wrong: generate it again on the gateway")
    return csr.public_key()


def _algorithm(key: PublicKeyTypes) -> str:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in ("secp256r1", "secp384r1"):
        return "ec-p256" if key.curve.name == "secp256r1" else "ec-p384"
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        return "rsa"
    raise BadKeyError(
        "unsupported key type: use Ed25519, ECDSA P-256/P-384 or RSA of at least 2048 bits"
    )
