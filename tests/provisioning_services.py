"""A private Mosquitto with the dynamic-security plugin, and helpers to provision against it.

Reusable by any test package: import the fixtures into your conftest.py,

    from tests.provisioning_services import dynsec_broker, dynsec_broker_factory  # noqa: F401

- `dynsec_broker` (function scope): a started DynsecBroker (plain listener only).
- `dynsec_broker_factory(tls=False)`: start more, optionally with a TLS listener whose server
  certificate is signed by a throwaway test CA (`broker.ca_pem`, `broker.tls_port`).

The broker runs with `allow_anonymous false` and `use_username_as_clientid true`; its
dynamic-security.json is generated with an admin account (`broker.admin_url`, what
`polekit fleet serve --broker-admin` takes) and a fleet bridge account (`broker.fleet_mqtt`).
Default ACL access denies everything; each device's role allows only its own topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from paho.mqtt.reasoncodes import ReasonCode

from fleet.bridge.dynsec_acl import initial_config
from fleet.runner import RunningFleet, run_fleet
from fleet.settings import (
    DatabaseSettings,
    FleetSettings,
    HttpSettings,
    MqttSettings,
    ProvisioningSettings,
    normalise_db_url,
)
from tests.services import LOOPBACK, MosquittoProcess, free_port

DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


@dataclass
class DynsecBroker(MosquittoProcess):
    """A mosquitto with dynamic security; `admin`/`fleet` are (username, password) pairs."""

    admin: tuple[str, str] = field(
        default_factory=lambda: ("polekit-admin", secrets.token_urlsafe(16))
    )
    fleet: tuple[str, str] = field(
        default_factory=lambda: ("polekit-fleet", secrets.token_urlsafe(16))
    )
    tls: bool = False
    tls_port: int = field(default_factory=free_port)
    ca_pem: str | None = None

    def write_config(self) -> Path:
        """mosquitto.conf with the plugin, and dynamic-security.json on first start only."""
        self.workdir.chmod(0o777)  # mosquitto drops to its own user and saves the JSON here
        dynsec = self.workdir / "dynamic-security.json"
        if not dynsec.exists():
            dynsec.write_text(json.dumps(initial_config(admin=self.admin, fleet=self.fleet)))
            dynsec.chmod(0o666)
        lines = [
            "per_listener_settings false",
            "allow_anonymous false",
            f"plugin {DYNSEC_PLUGIN}",
            f"plugin_opt_config_file {dynsec}",
            "max_queued_messages 100000",
            f"listener {self.port} {self.host}",
            "use_username_as_clientid true",
        ]
        if self.tls:
            ca, cert, key = _write_test_pki(self.workdir, self.host)
            self.ca_pem = ca.read_text()
            lines += [
                f"listener {self.tls_port} {self.host}",
                "use_username_as_clientid true",
                f"cafile {ca}",
                f"certfile {cert}",
                f"keyfile {key}",
                "tls_version tlsv1.2",
            ]
        if self.persistence:
            lines += ["persistence true", f"persistence_location {self.workdir}/"]
        lines += list(self.extra_config)
        path = self.workdir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    @property
    def admin_mqtt(self) -> MqttSettings:
        """Settings of the dynsec admin account (the fleet's --broker-admin)."""
        return MqttSettings(
            host=self.host, port=self.port, username=self.admin[0], password=self.admin[1]
        )

    @property
    def admin_url(self) -> str:
        """mqtt://admin:password@host:port."""
        return f"mqtt://{self.admin[0]}:{self.admin[1]}@{self.host}:{self.port}"

    def fleet_mqtt(self, **changes: Any) -> MqttSettings:
        """Settings of the fleet bridge account (subscribes to every device, publishes acks)."""
        return MqttSettings(
            host=self.host,
            port=self.port,
            username=self.fleet[0],
            password=self.fleet[1],
            session_expiry_s=60,
            **changes,
        )

    @property
    def tls_url(self) -> str:
        """mqtts://host:tls_port (only with tls=True)."""
        return f"mqtts://{self.host}:{self.tls_port}"


def _write_test_pki(workdir: Path, host: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `host` (an IP), readable by mosquitto."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "polekit test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (workdir / "ca.pem", workdir / "server.pem", workdir / "server.key")
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    for path in paths:
        path.chmod(0o644)  # a test key in a temp dir; mosquitto's user must read it
    return paths


@pytest.fixture
def dynsec_broker_factory() -> Iterator[Callable[..., DynsecBroker]]:
    """Start dynsec brokers: factory(tls=False, persistence=False) -> started broker."""
    started: list[DynsecBroker] = []

    def start(**options: Any) -> DynsecBroker:
        broker = DynsecBroker(**options)
        started.append(broker)
        broker.start()
        return broker

    yield start
    for broker in started:
        broker.close()


@pytest.fixture
def dynsec_broker(dynsec_broker_factory: Callable[..., DynsecBroker]) -> DynsecBroker:
    """A started private mosquitto with dynamic security (plain listener)."""
    return dynsec_broker_factory()


# --------------------------------------------------------------------------- devices


@dataclass(frozen=True)
class DeviceKey:
    """A gateway's key pair as a test holds it: the private half never leaves the test."""

    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> DeviceKey:
        """A fresh Ed25519 key pair."""
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_pem(self) -> str:
        """What enrollment sends."""
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @property
    def private_pem(self) -> str:
        """Only for proving it never reaches the fleet."""
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()


class CheckedClient(aiomqtt.Client):
    """An MQTT v5 client that returns the broker's PUBACK reason code for each publish."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("protocol", aiomqtt.ProtocolVersion.V5)
        super().__init__(*args, **kwargs)
        self._acks: dict[int, asyncio.Future[ReasonCode]] = {}

    def _on_publish(
        self, client: Any, userdata: Any, mid: int, reason_code: ReasonCode, properties: Any
    ) -> None:
        future = self._acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(reason_code)
        super()._on_publish(client, userdata, mid, reason_code, properties)

    async def publish_checked(self, topic: str, payload: bytes, *, wait_s: float = 10) -> int:
        """Publish QoS 1 and return the PUBACK reason code (0 success, 0x87 not authorized)."""
        info = self._client.publish(topic, payload, 1)
        if info.rc != 0:
            raise aiomqtt.MqttCodeError(info.rc, "could not publish")
        future: asyncio.Future[ReasonCode] = asyncio.get_running_loop().create_future()
        self._acks[info.mid] = future
        return int((await asyncio.wait_for(future, wait_s)).value)


def fleet_observer(broker: DynsecBroker) -> CheckedClient:
    """A client logged in as the fleet's bridge account: sees every device's topics."""
    return CheckedClient(
        broker.host, broker.port, username=broker.fleet[0], password=broker.fleet[1], timeout=10
    )


def device_client(
    broker: DynsecBroker, username: str | None, password: str | None, **kwargs: Any
) -> CheckedClient:
    """A v5 client on the broker's plain listener."""
    return CheckedClient(
        broker.host, broker.port, username=username, password=password, timeout=10, **kwargs
    )


NOT_AUTHORIZED = 0x87
SUCCESS = 0


def codes(granted: Sequence[int | ReasonCode]) -> list[int]:
    """SUBACK reason codes as plain ints (0-2 granted QoS, 0x87 not authorized)."""
    return [rc if isinstance(rc, int) else int(rc.value) for rc in granted]


# --------------------------------------------------------------------------- the fleet

ADMIN_KEY = "test-admin-key-" + "0123456789abcdef"
GROUP = "chengdu/wuhou/street-7"


@dataclass
class FleetClient:
    """A running fleet (provisioning on) and an HTTP client to it."""

    fleet: RunningFleet
    http: httpx.AsyncClient
    broker: DynsecBroker
    admin: dict[str, str] = field(default_factory=lambda: {"Authorization": f"Bearer {ADMIN_KEY}"})

    async def create_claim(
        self, *, max_uses: int = 1, ttl_s: int = 3600, group: str = GROUP
    ) -> dict[str, Any]:
        """POST /api/v1/claims; returns the created claim with its token."""
        response = await self.http.post(
            "/api/v1/claims",
            json={"group": group, "ttl_s": ttl_s, "max_uses": max_uses},
            headers=self.admin,
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def enroll(
        self, token: str, serial: str, key: DeviceKey, *, pole_id: str | None = None
    ) -> httpx.Response:
        """POST /api/v1/enroll for one gateway (pole id defaults to one per serial)."""
        pole = {
            "pole_id": pole_id or f"pole-{serial}",
            "lat": 30.64,
            "lon": 104.04,
            "street": "Wuhou Ci Da Jie",
            "district": "Wuhou",
        }
        return await self.http.post(
            "/api/v1/enroll",
            json={
                "claim_token": token,
                "serial": serial,
                "public_key": key.public_pem,
                "pole": pole,
            },
        )

    async def enroll_ok(self, token: str, serial: str, key: DeviceKey) -> dict[str, Any]:
        """Enroll and return the bundle, failing the test on any error."""
        response = await self.enroll(token, serial, key)
        assert response.status_code == 200, response.text
        return dict(response.json())


@contextlib.asynccontextmanager
async def provisioned_fleet(
    db_url: str, broker: DynsecBroker, keys_dir: Path, *, bridge: bool = True, **provisioning: Any
) -> AsyncIterator[FleetClient]:
    """run_fleet with provisioning on: admin key, keys in `keys_dir`, dynsec admin account.

    The enrollment rate limit is lifted (1000/min) unless `enroll_attempts` is given.
    """
    provisioning.setdefault("enroll_attempts", 1000)
    settings = FleetSettings(
        db=DatabaseSettings(url=normalise_db_url(db_url)),
        mqtt=broker.fleet_mqtt(client_id=f"pk-test-fleet-{secrets.token_hex(4)}"),
        http=HttpSettings(host=LOOPBACK, port=0),
        provisioning=ProvisioningSettings(
            admin_key=ADMIN_KEY,
            keys_dir=str(keys_dir),
            broker_admin=broker.admin_mqtt,
            **provisioning,
        ),
    )
    async with run_fleet(settings, bridge=bridge) as fleet:
        assert fleet.http_url is not None
        async with httpx.AsyncClient(base_url=fleet.http_url, timeout=30) as http:
            yield FleetClient(fleet=fleet, http=http, broker=broker)
