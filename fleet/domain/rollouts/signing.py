"""Sign desired-config documents with the fleet's Ed25519 key (fleet.security.keys)."""

from __future__ import annotations

from typing import Any, Protocol

from protocol.core import signed


class DocSigner(Protocol):
    """What signs: FleetKeys (kid + sign), or an HSM with the same two members."""

    @property
    def kid(self) -> str:
        """The key id devices look the public key up by."""
        ...

    def sign(self, data: bytes) -> bytes:
        """An Ed25519 signature of `data`."""
        ...


def envelope(
    signer: DocSigner, *, version: int, config: dict[str, Any], rollback: bool, issued_at: float
) -> bytes:
    """The signed envelope published (retained) on a device's config/desired topic."""
    doc = signed.encode_doc(version, config, issued_at, rollback)
    return signed.encode_envelope(doc, signer.kid, signer.sign)
