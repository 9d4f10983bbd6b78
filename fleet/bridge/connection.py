"""Build the aiomqtt client from settings, and the reconnect backoff."""

from __future__ import annotations

import random
import ssl

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet.settings import MqttSettings
from protocol.encoding import CONTENT_TYPES, Encoding


def make_client(settings: MqttSettings) -> aiomqtt.Client:
    """A client with a persistent session, so a restarted fleet gets what the broker queued."""
    v5 = settings.version == "5"
    properties = None
    if v5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = settings.session_expiry_s
    client = aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password,
        identifier=settings.client_id,
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        # Never start clean: resume the session (and its queue) on every connect.
        # paho rejects clean_start for 3.1.1 unless it is left at its default.
        clean_start=False if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
        clean_session=None if v5 else False,
        properties=properties,
        keepalive=settings.keepalive_s,
        tls_context=ssl.create_default_context() if settings.tls else None,
        timeout=10,
        # Acks and desired configs go out thousands at a time; paho's default window is 20.
        max_inflight_messages=1000,
    )
    # One ack per device per commit goes out concurrently; aiomqtt warns above 10 by default.
    client.pending_calls_threshold = 10_000
    return client


def publish_properties(settings: MqttSettings, encoding: Encoding) -> Properties | None:
    """The content-type property for a payload (MQTT v5 only; 3.1.1 has no properties)."""
    if settings.version != "5":
        return None
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ContentType = CONTENT_TYPES[encoding]
    return properties


class Backoff:
    """Jittered exponential backoff: full jitter between 0 and min(cap, base * 2**n)."""

    def __init__(self, *, base_s: float = 0.5, cap_s: float = 60.0) -> None:
        self._base_s = base_s
        self._cap_s = cap_s
        self._attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; grows with every call until reset."""
        ceiling = min(self._cap_s, self._base_s * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        # Never zero: a tight reconnect loop against a broker that refuses us helps no one.
        return max(self._base_s / 2, random.uniform(0, ceiling))

    def reset(self) -> None:
        """Forget past failures after a success."""
        self._attempt = 0
