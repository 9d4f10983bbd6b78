"""Turn a received MQTT message into a typed inbound message, or reject it with a reason."""

from __future__ import annotations

from datetime import datetime

import aiomqtt
import msgspec

from fleet.domain.ingest.schemas import (
    BatchReceived,
    ConfigReportReceived,
    HealthReceived,
    Inbound,
    StateReceived,
)
from protocol.encoding import Encoding, encoding_for_content_type
from protocol.errors import ProtocolError
from protocol.messages import ConfigReported, Health, decode_message
from protocol.senml import decode_batch
from protocol.topics import STATE_OFFLINE, STATE_ONLINE, Kind, parse_topic


class RejectedError(Exception):
    """A message the bridge cannot use; `reason` names the counter it goes to."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Decoded(msgspec.Struct, frozen=True):
    """An inbound message and the encoding its sender used (acks go back in the same one)."""

    inbound: Inbound | None
    """None for a message that is valid but carries nothing to store (a cleared retain)."""
    encoding: Encoding


def decode(message: aiomqtt.Message, *, now: datetime) -> Decoded:
    """Parse topic, content type and payload; raises RejectedError and nothing else."""
    try:
        ref = parse_topic(message.topic.value)
    except ProtocolError as exc:
        raise RejectedError("topic", str(exc)) from None
    try:
        encoding = encoding_for_content_type(_content_type(message))
    except ProtocolError as exc:
        raise RejectedError("content_type", str(exc)) from None
    payload = message.payload
    if not isinstance(payload, bytes | bytearray):
        raise RejectedError(_REASONS.get(ref.kind, "topic"), "payload is not bytes")
    device_id = ref.device_id
    if ref.kind is Kind.TELEMETRY:
        try:
            batch = decode_batch(bytes(payload), encoding)
        except ProtocolError as exc:
            raise RejectedError("telemetry", str(exc)) from None
        return Decoded(BatchReceived(device_id=device_id, batch=batch, received_at=now), encoding)
    if ref.kind is Kind.HEALTH:
        try:
            health = decode_message(bytes(payload), Health, encoding)
        except ProtocolError as exc:
            raise RejectedError("health", str(exc)) from None
        return Decoded(
            HealthReceived(device_id=device_id, health=health, received_at=now), encoding
        )
    if ref.kind is Kind.STATE:
        return Decoded(_state(device_id, bytes(payload), message.retain, now), encoding)
    if ref.kind is Kind.CONFIG_REPORTED:
        if not payload:
            return Decoded(None, encoding)  # a cleared retained report
        try:
            report = decode_message(bytes(payload), ConfigReported, encoding)
        except ProtocolError as exc:
            raise RejectedError("config_reported", str(exc)) from None
        return Decoded(
            ConfigReportReceived(device_id=device_id, report=report, received_at=now), encoding
        )
    raise RejectedError("topic", f"the fleet does not take {ref.kind.value} messages")


_REASONS = {
    Kind.TELEMETRY: "telemetry",
    Kind.HEALTH: "health",
    Kind.STATE: "state",
    Kind.CONFIG_REPORTED: "config_reported",
}


def _state(device_id: str, payload: bytes, retained: bool, now: datetime) -> StateReceived | None:
    if payload == b"":
        return None  # someone cleared the retained state: nothing happened to the device
    if payload not in (STATE_ONLINE, STATE_OFFLINE):
        raise RejectedError("state", "expected 'online' or 'offline'")
    online = payload == STATE_ONLINE
    return StateReceived(device_id=device_id, online=online, received_at=now, retained=retained)


def _content_type(message: aiomqtt.Message) -> str | None:
    # paho only sets the attribute when the publisher sent the property (MQTT v5).
    properties = message.properties
    if properties is None:
        return None
    value = getattr(properties, "ContentType", None)
    return value if isinstance(value, str) else None
