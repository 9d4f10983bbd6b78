"""Build a bundle from an enrollment answer and write it atomically (format: edge/bundle.py).

A write goes to a temporary directory beside the target, every file and the directory are
fsynced, then the directory is renamed into place. A write killed at any point leaves the
previous bundle or no bundle, never a mix; the next write cleans up what a killed one left.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import yaml

from edge.bundle import MANIFEST_FILE, BundleFiles, BundleManifest, SigningKey
from edge.config_file import ConfigError, convert_config
from provisioning.enroll import EnrollResponse
from provisioning.keys import DeviceKey

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644
DIR_MODE = 0o750


class BundleWriteError(Exception):
    """The bundle cannot be written where asked; the message says what to do instead."""


@dataclass(frozen=True, kw_only=True, repr=False)
class BundleFile:
    """One file of a bundle: name, content and permission bits."""

    name: str
    data: bytes
    mode: int = PUBLIC_MODE

    def __repr__(self) -> str:
        """Name and size only: several bundle files are secret."""
        return f"BundleFile({self.name!r}, {len(self.data)} bytes)"


def agent_config(
    response: EnrollResponse, *, overlay: dict[str, Any] | None = None, board: str | None = None
) -> dict[str, Any]:
    """The fleet's initial config, completed by the technician's local config (`--config`).

    The local file brings buses, buffer and health settings; the fleet's identity and uplink
    (device id, broker) always win, so a template reused across poles cannot misroute one.
    """
    config = copy.deepcopy(response.initial_config)
    for key, value in (overlay or {}).items():
        if key == "device_id":
            continue
        if key == "uplink" and isinstance(value, dict):
            config["uplink"] = {**value, **config.get("uplink", {})}
        else:
            config[key] = value
    config["device_id"] = response.device_id
    config.setdefault("uplink", {}).setdefault("broker", response.broker_urls[0])
    if board is not None:
        config["board"] = board
    try:
        convert_config(config, file="config.yaml")
    except ConfigError as exc:
        raise BundleWriteError(
            f"the agent config for the bundle is invalid ({exc}); fix the file given with "
            "--config (or the fleet's initial config) and provision again: enrollment is "
            "idempotent, the same claim works"
        ) from exc
    return config


def build_bundle(
    response: EnrollResponse,
    key: DeviceKey,
    *,
    overlay: dict[str, Any] | None = None,
    board: str | None = None,
    serial: str | None = None,
    pole_id: str | None = None,
    fleet_url: str = "",
) -> list[BundleFile]:
    """The files of a bundle for this enrollment answer and key (fleet_url: if it names none)."""
    config = agent_config(response, overlay=overlay, board=board)
    files = BundleFiles(
        cert="device.pem" if response.client_cert_pem else None,
        ca="ca.pem" if response.ca_cert_pem else None,
        password="mqtt.password" if response.mqtt_password else None,
    )
    signing = response.config_signing_public_key
    manifest = BundleManifest(
        device_id=response.device_id,
        broker_urls=list(response.broker_urls),
        mqtt_username=response.mqtt_username,
        fleet_url=response.fleet_url or fleet_url,
        board=config.get("board"),
        config_signing_public_key=SigningKey(kid=signing.kid, ed25519_b64=signing.ed25519_b64),
        files=files,
        serial=serial,
        pole_id=pole_id,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    out = [
        BundleFile(name=MANIFEST_FILE, data=msgspec.json.format(msgspec.json.encode(manifest))),
        BundleFile(name=files.config, data=yaml.safe_dump(config, sort_keys=False).encode()),
        BundleFile(name=files.key, data=key.private_pem, mode=SECRET_MODE),
    ]
    if files.cert and response.client_cert_pem:
        out.append(BundleFile(name=files.cert, data=response.client_cert_pem.encode()))
    if files.ca and response.ca_cert_pem:
        out.append(BundleFile(name=files.ca, data=response.ca_cert_pem.encode()))
    if files.password and response.mqtt_password:
        out.append(
            BundleFile(name=files.password, data=response.mqtt_password.encode(), mode=SECRET_MODE)
        )
    return out


def write_bundle_dir(target: Path, files: Sequence[BundleFile]) -> None:
    """Replace the bundle in `target` with `files` atomically (see the module docstring)."""
    target = Path(target).absolute()
    parent = target.parent
    check_target(target)
    _recover(target)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    except OSError as exc:
        raise BundleWriteError(_not_writable(parent, exc)) from exc
    old: Path | None = None
    try:
        for item in files:
            _write_file(staging / item.name, item.data, item.mode)
        staging.chmod(DIR_MODE)
        _fsync_dir(staging)
        if target.exists():
            old = parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(target, old)
        os.rename(staging, target)
        _fsync_dir(parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not target.exists():
            os.rename(old, target)
        raise BundleWriteError(
            f"writing the bundle to {target} failed ({exc.strerror or exc}); the previous "
            "bundle (if any) is unchanged. Check free space and that the card is not "
            "write-protected, then run the same command again"
        ) from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def check_target(target: Path) -> None:
    """Refuse early (before enrolling) a target that cannot take a bundle."""
    parent = target.parent
    if not parent.is_dir():
        raise BundleWriteError(
            f"cannot write the bundle to {target}: {parent} does not exist; is the gateway's "
            "boot partition mounted? (check `lsblk` / `mount`, then pass its mount point)"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BundleWriteError(_not_writable(parent, None))
    if target.exists() and not target.is_dir():
        raise BundleWriteError(f"{target} is a file; pass a directory for the bundle")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST_FILE).exists():
        raise BundleWriteError(
            f"{target} exists and is not a polekit bundle; it would be replaced whole, so "
            f"choose a new or empty directory (for example {target / 'polekit'})"
        )


def _not_writable(parent: Path, exc: OSError | None) -> str:
    why = f" ({exc.strerror})" if exc is not None and exc.strerror else ""
    return (
        f"cannot write the bundle: {parent} is not writable{why}. Is the boot partition mounted "
        "read-only or the SD card's lock switch on? Remount it read-write "
        "(`sudo mount -o remount,rw ...`) or run with sufficient permissions"
    )


def _recover(target: Path) -> None:
    """Undo what a killed write left: drop staging dirs, put back an old bundle if none is live."""
    parent = target.parent
    for stale in parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for old in sorted(parent.glob(f".{target.name}.old-*")):
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(old, target)


def _write_file(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make a rename durable; some file systems (FAT boot partitions) cannot, which is fine."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
