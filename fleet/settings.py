"""Fleet service settings: typed structs built once from the command line or by a caller.

Nothing here reads the environment at import time, so tests build settings directly.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec

DEFAULT_DB_URL = "sqlite:///polekit-fleet.db"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"


class DatabaseSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Where the fleet keeps its data; `url` is already normalised to an async driver."""

    url: str = "sqlite+aiosqlite:///polekit-fleet.db"
    """Already normalised (see normalise_db_url)."""
    echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite default."""
        return self.url.startswith("sqlite")


class MqttSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the bridge reaches the broker and which session it keeps there."""

    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = None
    version: Literal["5", "3.1.1"] = "5"
    client_id: str = msgspec.field(default_factory=lambda: f"polekit-fleet-{socket.gethostname()}")
    share_group: str | None = None
    """`$share/<group>/...` subscriptions so N replicas split the ingest (MQTT v5 only)."""
    session_expiry_s: int = 3600
    """How long the broker queues QoS 1 messages for a stopped fleet (persistent session)."""
    keepalive_s: int = 30


class IngestSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the bridge groups messages into one database transaction."""

    max_messages: int = 200
    """Flush after this many queued messages ..."""
    max_delay_s: float = 0.05
    """... or this long after the first one, whichever comes first."""
    queue_size: int = 2000
    """Decoded messages waiting for the writer; bounds memory when the database is slow."""


class HttpSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Where the API listens; port 0 picks a free port (tests)."""

    host: str = "127.0.0.1"
    port: int = 8080


class ProvisioningSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Claims, enrollment and device credentials (see docs/provisioning.md)."""

    admin_key: str | None = None
    """Bearer key of the admin API; None disables the admin routes (401 with a hint)."""
    keys_dir: str = "polekit-fleet-keys"
    """Where the config-signing key and the claim-token secret live: outside the database."""
    key_passphrase: str | None = None
    """Encrypts the signing key file at rest when set."""
    broker_admin: MqttSettings | None = None
    """A dynamic-security admin account on the broker; None: enrollment answers 503."""
    broker_urls: tuple[str, ...] = ()
    """What devices connect to (in the bundle); empty: the bridge's own broker address."""
    broker_ca_path: str | None = None
    """PEM of the CA that signed the broker's TLS certificate, handed to devices."""
    public_url: str | None = None
    """The fleet's URL as devices and technicians reach it (in the bundle)."""
    enroll_attempts: int = 30
    """Enrollment attempts allowed per claim token ..."""
    enroll_window_s: float = 60.0
    """... within this many seconds."""


class DashboardSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The dashboard's map: no tiles unless a tile server is configured (markers show anyway)."""

    tile_url: str | None = None
    """e.g. https://tile.example.org/{z}/{x}/{y}.png; None draws markers on a blank map."""
    tile_attribution: str = ""
    cookie_secure: bool = False
    """Mark the session cookie Secure (behind TLS)."""


class FleetSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `polekit fleet serve` needs."""

    db: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    ingest: IngestSettings = msgspec.field(default_factory=IngestSettings)
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    provisioning: ProvisioningSettings = msgspec.field(default_factory=ProvisioningSettings)
    dashboard: DashboardSettings = msgspec.field(default_factory=DashboardSettings)


def normalise_db_url(url: str) -> str:
    """Map user-facing URLs (postgresql://, sqlite:///x, a bare path) to async drivers."""
    if "://" not in url:
        return f"sqlite+aiosqlite:///{Path(url)}"
    scheme, rest = url.split("://", 1)
    driverless = scheme.split("+", 1)[0]
    if driverless in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    if driverless == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite:/// or postgresql://")


def parse_mqtt_url(url: str, *, base: MqttSettings | None = None) -> MqttSettings:
    """Parse `mqtt[s]://[user:pass@]host[:port][?version=3.1.1&client_id=x]` into settings."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r}: use mqtt:// or mqtts://")
    tls = parts.scheme in ("mqtts", "ssl")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"version", "client_id"}
    if unknown:
        raise ValueError(f"unknown MQTT URL option(s): {', '.join(sorted(unknown))}")
    version = query.get("version", "5")
    if version in ("5", "5.0"):
        version = "5"
    elif version not in ("3.1.1", "311"):
        raise ValueError(f"unsupported MQTT version {version!r}: use 5 or 3.1.1")
    else:
        version = "3.1.1"
    start = base or MqttSettings()
    return msgspec.structs.replace(
        start,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        version="5" if version == "5" else "3.1.1",
        client_id=query.get("client_id", start.client_id),
    )
