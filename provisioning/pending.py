"""Claims not yet completed, kept on the laptop until the fleet answers (`provision --resume`).

Every provisioning run is queued first (request, target and the device key, all 0600 in a
0700 directory) and removed once its bundle is written, so neither a dead network nor a
crashed laptop loses a key the fleet may already have enrolled: the same request is sent
again later, which enrollment treats as the same device.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from provisioning.enroll import EnrollRequest
from provisioning.keys import DeviceKey, load_key
from provisioning.micro_target import MicroTarget

CLAIM_FILE = "claim.json"
KEY_FILE = "device.key"


def default_root() -> Path:
    """~/.polekit/pending-claims (HOME decides, so tests and other users get their own)."""
    return Path.home() / ".polekit" / "pending-claims"


class PendingClaim(msgspec.Struct, kw_only=True):
    """What is needed to finish one provisioning run later (no private key: that is beside)."""

    fleet_url: str
    request: EnrollRequest
    target_dir: str | None = None
    target_ssh: str | None = None
    target_micro: MicroTarget | None = None
    board: str | None = None
    overlay: dict[str, Any] | None = None
    queued_at: str = ""
    last_error: str | None = None

    def __repr__(self) -> str:
        """Never show the claim token."""
        return f"PendingClaim(pole={self.request.pole.pole_id!r}, serial={self.request.serial!r})"

    @property
    def target(self) -> str:
        """Where the bundle goes, for messages."""
        micro = f"the controller on {self.target_micro.port}" if self.target_micro else None
        return self.target_ssh or self.target_dir or micro or "?"


@dataclass(frozen=True, kw_only=True)
class QueuedClaim:
    """A claim on disk: its directory, request and key."""

    path: Path
    claim: PendingClaim
    key: DeviceKey


def queue(root: Path, claim: PendingClaim, key: DeviceKey) -> QueuedClaim:
    """Store a claim and its key (0600 files in a 0700 directory named by the key)."""
    path = root / f"{claim.request.pole.pole_id}-{key.fingerprint}"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    if not claim.queued_at:
        claim.queued_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    _write_secret(path / KEY_FILE, key.private_pem)
    save(QueuedClaim(path=path, claim=claim, key=key))
    return QueuedClaim(path=path, claim=claim, key=key)


def save(entry: QueuedClaim) -> None:
    """Rewrite the claim file (after recording an error)."""
    _write_secret(entry.path / CLAIM_FILE, msgspec.json.format(msgspec.json.encode(entry.claim)))


def load_all(root: Path) -> list[QueuedClaim]:
    """Every readable queued claim, oldest first."""
    entries = []
    for claim_file in sorted(root.glob(f"*/{CLAIM_FILE}")):
        try:
            claim = msgspec.json.decode(claim_file.read_bytes(), type=PendingClaim)
            key = load_key((claim_file.parent / KEY_FILE).read_bytes())
        except (OSError, msgspec.DecodeError, ValueError, TypeError):
            continue
        entries.append(QueuedClaim(path=claim_file.parent, claim=claim, key=key))
    return sorted(entries, key=lambda entry: entry.claim.queued_at)


def find(root: Path, *, fleet_url: str, claim_token: str, pole_id: str) -> QueuedClaim | None:
    """The queued claim of an earlier run of the same command (to reuse its key), if any."""
    for entry in load_all(root):
        request = entry.claim.request
        if (
            entry.claim.fleet_url == fleet_url
            and request.claim_token == claim_token
            and request.pole.pole_id == pole_id
        ):
            return entry
    return None


def remove(entry: QueuedClaim) -> None:
    """Forget a claim once its bundle is written (or the fleet refused it for good)."""
    shutil.rmtree(entry.path, ignore_errors=True)


def _write_secret(path: Path, data: bytes) -> None:
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
