"""The provisioning bundle: a gateway's identity and first config, as files in one directory.

`polekit provision` writes it (provisioning/bundle.py), the agent reads it here. This module
needs nothing beyond the edge install (msgspec, PyYAML through edge.config_file).

```
bundle.json   BundleManifest: device id, brokers, fleet, board, config key, file names
config.yaml   the agent config the fleet issued (device_id included)
device.key    the device's private key (0600), generated where the bundle was written
device.pem    the client certificate, when the broker authenticates by certificate
ca.pem        the CA that signed the broker's certificate, for mqtts://
mqtt.password the broker password (0600), when the broker authenticates by password
```
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from edge.config import AgentConfig, DeviceId
from edge.config_file import ConfigError, load_config

BUNDLE_FORMAT = 1
MANIFEST_FILE = "bundle.json"
HOW_TO_PROVISION = (
    "provision the gateway from the technician's laptop with "
    "`polekit provision --fleet URL --claim TOKEN --pole ID --target DIR` "
    "(or run the agent with --config FILE for a local, unprovisioned setup)"
)
FileName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class BundleError(Exception):
    """A bundle is missing or broken; the message says what and how to fix it."""


class SigningKey(msgspec.Struct, frozen=True, kw_only=True):
    """The fleet's Ed25519 key that signs desired configs."""

    kid: str
    ed25519_b64: str


class BundleFiles(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Names of the bundle's files, relative to the bundle directory; None when not used."""

    config: FileName = "config.yaml"
    key: FileName = "device.key"
    cert: FileName | None = None
    ca: FileName | None = None
    password: FileName | None = None


class BundleManifest(msgspec.Struct, frozen=True, kw_only=True):
    """bundle.json: everything about the device that is not secret."""

    format: int = BUNDLE_FORMAT
    device_id: DeviceId
    broker_urls: Annotated[list[str], Meta(min_length=1)]
    mqtt_username: str | None = None
    fleet_url: str
    board: str | None = None
    config_signing_public_key: SigningKey
    files: BundleFiles = msgspec.field(default_factory=BundleFiles)
    serial: str | None = None
    pole_id: str | None = None
    created_at: str | None = None


@dataclass(frozen=True, kw_only=True)
class Bundle:
    """A read and checked bundle: the config plus the paths and secrets to connect with."""

    root: Path
    manifest: BundleManifest
    config: AgentConfig
    password: str | None
    key_file: Path
    cert_file: Path | None
    ca_file: Path | None

    @property
    def username(self) -> str | None:
        """The broker login name (None with certificate-only authentication)."""
        return self.manifest.mqtt_username


def read_manifest(root: Path) -> BundleManifest:
    """bundle.json of the bundle in `root`; BundleError when absent or invalid."""
    if not root.is_dir():
        raise BundleError(f"no provisioning bundle at {root}: {HOW_TO_PROVISION}")
    path = root / MANIFEST_FILE
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(
            f"{root} is not a provisioning bundle ({MANIFEST_FILE} is missing: {exc.strerror}); "
            + HOW_TO_PROVISION
        ) from exc
    try:
        manifest = msgspec.json.decode(data, type=BundleManifest)
    except msgspec.DecodeError as exc:
        raise BundleError(f"{path} is damaged ({exc}); provision the gateway again") from exc
    if manifest.format != BUNDLE_FORMAT:
        raise BundleError(
            f"{path} has bundle format {manifest.format}, this agent reads {BUNDLE_FORMAT}: "
            "update the agent or provision again with a matching polekit"
        )
    return manifest


def read_bundle(root: str | Path) -> Bundle:
    """Read and check a bundle directory; BundleError says what is missing and what to do."""
    root = Path(root)
    manifest = read_manifest(root)
    files = manifest.files
    missing = [
        name
        for name in (files.config, files.key, files.cert, files.ca, files.password)
        if name is not None and not (root / name).is_file()
    ]
    if missing:
        raise BundleError(
            f"bundle {root} is incomplete: {', '.join(missing)} missing; "
            "provision the gateway again (the old claim can be reused: enrollment is idempotent)"
        )
    try:
        config = load_config(root / files.config)
    except ConfigError as exc:
        raise BundleError(f"bundle config is invalid: {exc}") from exc
    if config.device_id != manifest.device_id:
        raise BundleError(
            f"bundle {root}: config.yaml is for device {config.device_id} but bundle.json for "
            f"{manifest.device_id}; provision the gateway again"
        )
    if config.board is None and manifest.board is not None:
        config = msgspec.structs.replace(config, board=manifest.board)
    tls = any(url.startswith("mqtts://") for url in manifest.broker_urls)
    if tls and files.ca is None:
        raise BundleError(f"bundle {root} uses mqtts:// but has no CA certificate (ca.pem)")
    password = None
    if files.password is not None:
        password = (root / files.password).read_text(encoding="utf-8").strip()
        if not password:
            raise BundleError(f"bundle {root}: {files.password} is empty; provision again")
    _check_tls(root, files)
    return Bundle(
        root=root,
        manifest=manifest,
        config=config,
        password=password,
        key_file=root / files.key,
        cert_file=root / files.cert if files.cert else None,
        ca_file=root / files.ca if files.ca else None,
    )


def _check_tls(root: Path, files: BundleFiles) -> None:
    """Load the CA and the client certificate once, so a damaged file is named at start-up."""
    try:
        context = ssl.create_default_context(cafile=str(root / files.ca) if files.ca else None)
        if files.cert is not None:
            context.load_cert_chain(certfile=root / files.cert, keyfile=root / files.key)
    except (ssl.SSLError, OSError) as exc:
        raise BundleError(
            f"bundle {root}: the CA certificate, device certificate or key is damaged or they "
            f"do not belong together ({exc}); provision the gateway again"
        ) from exc
