"""The agent's MQTT session: the only edge module that imports aiomqtt/paho."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from edge.deferred_import import defer

# paho imports both at the top and uses them for one thing each: urllib.request (and through
# it http.client and email) to look up an `mqtt_proxy` environment variable when PySocks is
# installed, hashlib for the websocket handshake. Deferred, an agent that never does these
# does not carry them: about 1.2 MiB and 0.3 MiB resident.
defer("urllib.request")
defer("hashlib")

import aiomqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

from protocol.encoding import CONTENT_TYPES, Encoding  # noqa: E402
from protocol.topics import PREFIX, STATE_OFFLINE, Kind, topic_for  # noqa: E402

MqttError = aiomqtt.MqttError


class BrokerUrlError(ValueError):
    """A broker URL polekit cannot use."""


@dataclass(frozen=True, kw_only=True)
class BrokerAddress:
    """Where the broker is and how to speak to it."""

    host: str
    port: int
    tls: bool
    mqtt_version: str


def parse_broker_url(url: str, *, default_version: str = "5") -> BrokerAddress:
    """mqtt://host[:1883] or mqtts://host[:8883], optional ?version=3.1.1."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise BrokerUrlError(
            f"broker URL {url!r} must look like mqtt://host:1883 or mqtts://host:8883"
        )
    tls = parts.scheme == "mqtts"
    version = parse_qs(parts.query).get("version", [default_version])[0]
    if version not in ("5", "3.1.1"):
        raise BrokerUrlError(f"broker URL {url!r}: version must be 5 or 3.1.1")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise BrokerUrlError(f"broker URL {url!r} has an invalid port") from exc
    return BrokerAddress(host=parts.hostname, port=port, tls=tls, mqtt_version=version)


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """Per-device broker login; comes from the provisioning bundle, never from the config."""

    username: str
    password: str | None = None


class MqttSession:
    """A connected client bound to one device's topics."""

    def __init__(self, *, client: aiomqtt.Client, device_id: str, encoding: Encoding, v5: bool):
        self._client = client
        self._device_id = device_id
        self._v5 = v5
        self._content_type = CONTENT_TYPES[encoding]

    async def publish(
        self,
        kind: Kind,
        payload: bytes,
        *,
        retain: bool = False,
        timeout: float = 30.0,  # noqa: ASYNC109 - passed through to aiomqtt, which owns the wait
    ) -> None:
        """Publish at QoS 1 under this device's topic; returns once the broker has it (PUBACK)."""
        properties = None
        if self._v5:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.ContentType = self._content_type
        await self._client.publish(
            topic_for(self._device_id, kind),
            payload,
            qos=1,
            retain=retain,
            properties=properties,
            timeout=timeout,
        )
        _raise_pending_cancel()

    async def subscribe(self, kind: Kind) -> None:
        """Subscribe at QoS 1 to one of this device's inbound topics."""
        await self._client.subscribe(topic_for(self._device_id, kind), qos=1)
        _raise_pending_cancel()

    async def subscribe_commands(self) -> None:
        """Subscribe at QoS 1 to cmd/req/+ of this device."""
        await self._client.subscribe(f"{PREFIX}/{self._device_id}/{Kind.CMD_REQ.value}/+", qos=1)
        _raise_pending_cancel()

    async def publish_command_result(self, command_id: str, payload: bytes) -> None:
        """Publish a result on cmd/res/{command_id} at QoS 1."""
        properties = None
        if self._v5:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.ContentType = self._content_type
        topic = topic_for(self._device_id, Kind.CMD_RES, command_id)
        await self._client.publish(topic, payload, qos=1, properties=properties, timeout=10)
        _raise_pending_cancel()

    async def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        """Inbound (topic, payload) pairs, in arrival order."""
        async for message in self._client.messages:
            payload = message.payload
            if isinstance(payload, bytes | bytearray):
                yield str(message.topic), bytes(payload)


def _raise_pending_cancel() -> None:
    """Honour a cancel that Python 3.11's asyncio.wait_for (inside aiomqtt) swallowed.

    On 3.11 a cancel that lands as the awaited operation completes is lost: wait_for returns
    the result instead of raising, and the task would run on (an agent ignoring SIGTERM).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@asynccontextmanager
async def connect(
    *,
    broker: BrokerAddress,
    device_id: str,
    encoding: Encoding,
    keepalive: float,
    credentials: Credentials | None = None,
    ca_file: str | None = None,
    client_cert: tuple[str, str] | None = None,
) -> AsyncIterator[MqttSession]:
    """Connect with `offline` as retained last will on the state topic; yields the session.

    Over mqtts:// the broker is checked against `ca_file` (the system CAs when None), and
    `client_cert` (certificate file, key file) authenticates the device when set.
    """
    v5 = broker.mqtt_version == "5"
    will = aiomqtt.Will(
        topic=topic_for(device_id, Kind.STATE), payload=STATE_OFFLINE, qos=1, retain=True
    )
    tls_context = ssl.create_default_context(cafile=ca_file) if broker.tls else None
    if tls_context is not None and client_cert is not None:
        tls_context.load_cert_chain(certfile=client_cert[0], keyfile=client_cert[1])
    # paho refuses clean_start on 3.1.1; there clean_session plays that role.
    clean: dict[str, Any] = {"clean_start": True} if v5 else {"clean_session": True}
    client = aiomqtt.Client(
        hostname=broker.host,
        port=broker.port,
        identifier=device_id,
        username=credentials.username if credentials else None,
        password=credentials.password if credentials else None,
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        will=will,
        keepalive=max(5, int(keepalive)),
        tls_context=tls_context,
        **clean,
        timeout=10,
    )
    async with client:
        session = MqttSession(client=client, device_id=device_id, encoding=encoding, v5=v5)
        try:
            yield session
        finally:
            await _say_offline(session)


async def _say_offline(session: MqttSession) -> None:
    """On a clean disconnect the broker drops the will: publish `offline` ourselves, briefly.

    On a lost connection this fails at once and the broker's last will speaks instead.
    """
    with contextlib.suppress(Exception):
        async with asyncio.timeout(2.0):
            await session.publish(Kind.STATE, STATE_OFFLINE, retain=True, timeout=2.0)
