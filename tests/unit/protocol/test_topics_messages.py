"""Topic builder/parser, device ids and control-message codec."""

from __future__ import annotations

import pytest

from protocol.errors import ProtocolError
from protocol.ids import new_boot_id, validate_device_id
from protocol.messages import Ack, AckEntry, ConfigReported, decode_message, encode_message
from protocol.topics import Kind, TopicRef, fleet_subscription, parse_topic, topic_for


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (Kind.TELEMETRY, "pk/v1/pole-1/telemetry"),
        (Kind.HEALTH, "pk/v1/pole-1/health"),
        (Kind.STATE, "pk/v1/pole-1/state"),
        (Kind.CONFIG_DESIRED, "pk/v1/pole-1/config/desired"),
        (Kind.CONFIG_REPORTED, "pk/v1/pole-1/config/reported"),
        (Kind.ACK, "pk/v1/pole-1/ack"),
    ],
)
def test_topic_round_trip(kind: Kind, expected: str) -> None:
    assert topic_for("pole-1", kind) == expected
    assert parse_topic(expected) == TopicRef(device_id="pole-1", kind=kind)


def test_command_topics_carry_an_id() -> None:
    topic = topic_for("pole-1", Kind.CMD_REQ, "c42")
    assert topic == "pk/v1/pole-1/cmd/req/c42"
    assert parse_topic(topic) == TopicRef(device_id="pole-1", kind=Kind.CMD_REQ, command_id="c42")
    with pytest.raises(ProtocolError):
        topic_for("pole-1", Kind.CMD_RES)


@pytest.mark.parametrize(
    "device_id", ["", "Pole", "a/b", "a+b", "#", "x" * 65, "pole_1", "pole 1", "pølé"]
)
def test_device_ids_that_could_escape_a_topic_are_refused(device_id: str) -> None:
    with pytest.raises(ProtocolError):
        validate_device_id(device_id)
    with pytest.raises(ProtocolError):
        topic_for(device_id, Kind.TELEMETRY)


@pytest.mark.parametrize(
    "topic",
    [
        "pk/v2/pole-1/telemetry",
        "pk/v1/pole-1",
        "pk/v1/pole-1/telemetry/extra",
        "pk/v1/POLE/telemetry",
        "pk/v1/pole-1/cmd/req/",
        "pk/v1/pole-1/cmd/req/a/b",
        "other/pole-1/telemetry",
    ],
)
def test_malformed_topics_raise_protocol_error(topic: str) -> None:
    with pytest.raises(ProtocolError):
        parse_topic(topic)


def test_fleet_subscriptions() -> None:
    assert fleet_subscription(Kind.TELEMETRY) == "pk/v1/+/telemetry"
    assert fleet_subscription(Kind.TELEMETRY, "ingest") == "$share/ingest/pk/v1/+/telemetry"
    assert fleet_subscription(Kind.CMD_RES) == "pk/v1/+/cmd/res/+"
    with pytest.raises(ProtocolError):
        fleet_subscription(Kind.STATE, "bad/group")


def test_boot_ids_are_fresh_hex() -> None:
    first, second = new_boot_id(), new_boot_id()
    assert first != second
    assert len(first) == 16
    int(first, 16)


@pytest.mark.parametrize("encoding", ["cbor", "msgpack", "json"])
def test_ack_round_trip(encoding: str) -> None:
    ack = Ack(entries=[AckEntry(boot_id="0123456789abcdef", ranges=[(0, 5), (7, 7)])])
    data = encode_message(ack, encoding)  # type: ignore[arg-type]
    assert decode_message(data, Ack, encoding) == ack  # type: ignore[arg-type]


def test_ack_golden_cbor() -> None:
    ack = Ack(entries=[AckEntry(boot_id="0123456789abcdef", ranges=[(0, 5), (7, 7)])])
    expected = "a167656e74726965738182703031323334353637383961626364656682820005820707"
    assert encode_message(ack).hex() == expected


def test_wrong_message_shape_is_a_protocol_error() -> None:
    data = encode_message(ConfigReported(version=3, status="applied"))
    with pytest.raises(ProtocolError, match="invalid Ack"):
        decode_message(data, Ack)
