"""The fleet's secrets, kept in files outside the database.

- `signing-ed25519.pem`: the config-signing key (PKCS#8, encrypted when a passphrase is set).
- `claim-secret.key`: the HMAC key claim tokens are derived from, so the database holds only
  token hashes and the fleet can still show a claim's QR code again.

Both are created on first use with mode 0600 in a 0700 directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SIGNING_KEY_FILE = "signing-ed25519.pem"
CLAIM_SECRET_FILE = "claim-secret.key"  # noqa: S105 - a file name, not a secret
TOKEN_PREFIX = "PKC-"  # noqa: S105 - the public prefix of every token
_TOKEN_CONTEXT = b"polekit-claim-token-v1\x00"


class KeyFileError(Exception):
    """A key file exists but cannot be used (wrong passphrase, corrupt, wrong type)."""


@dataclass(frozen=True)
class FleetKeys:
    """The config-signing key pair and the claim-token secret of one fleet."""

    signing_key: Ed25519PrivateKey
    claim_secret: bytes

    @classmethod
    def load_or_create(cls, keys_dir: str | Path, *, passphrase: str | None = None) -> FleetKeys:
        """Load the keys from `keys_dir`, generating any that are missing."""
        directory = Path(keys_dir)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(
            signing_key=_signing_key(directory / SIGNING_KEY_FILE, passphrase),
            claim_secret=_claim_secret(directory / CLAIM_SECRET_FILE),
        )

    @property
    def public_key_raw(self) -> bytes:
        """The 32-byte Ed25519 public key devices verify configs with."""
        return self.signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def kid(self) -> str:
        """A stable key id: `fleet-` and the first 16 hex digits of the key's SHA-256."""
        return "fleet-" + hashlib.sha256(self.public_key_raw).hexdigest()[:16]

    def sign(self, data: bytes) -> bytes:
        """An Ed25519 signature over `data` (the signed-config envelope uses it)."""
        return self.signing_key.sign(data)

    def claim_token(self, claim_id: str) -> str:
        """The token of a claim: HMAC of its id, base32 so it fits a QR code's compact mode."""
        digest = hmac.new(self.claim_secret, _TOKEN_CONTEXT + claim_id.encode(), "sha256")
        return TOKEN_PREFIX + base64.b32encode(digest.digest()[:20]).decode().rstrip("=")


def hash_token(token: str) -> str:
    """What the database stores of a token (tokens are random, so a fast hash suffices)."""
    return hashlib.sha256(normalise_token(token).encode()).hexdigest()


def normalise_token(token: str) -> str:
    """Accept a token typed by hand: case, spaces and dashes do not matter."""
    compact = "".join(token.split()).upper().replace("-", "")
    bare_prefix = TOKEN_PREFIX.rstrip("-")
    if compact.startswith(bare_prefix):
        compact = compact[len(bare_prefix) :]
    return TOKEN_PREFIX + compact


def _signing_key(path: Path, passphrase: str | None) -> Ed25519PrivateKey:
    password = passphrase.encode() if passphrase else None
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        _write_new(path, pem)
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=password)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(
            f"cannot load the signing key {path}: {exc} (wrong or missing passphrase?)"
        ) from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 private key")
    return loaded


def _claim_secret(path: Path) -> bytes:
    if not path.exists():
        _write_new(path, secrets.token_hex(32).encode() + b"\n")
    try:
        secret = bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise KeyFileError(f"{path} does not hold a hex secret") from None
    if len(secret) < 32:
        raise KeyFileError(f"{path} holds fewer than 32 bytes")
    return secret


def _write_new(path: Path, data: bytes) -> None:
    """Create the file with mode 0600; if another process won the race, keep theirs."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if the file appeared meanwhile: first writer wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
