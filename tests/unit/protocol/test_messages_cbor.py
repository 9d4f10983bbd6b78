"""Control messages in CBOR: protocol.core.cbor writes what cbor2 writes and reads it back."""

from __future__ import annotations

import cbor2
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from protocol.messages import (
    Ack,
    AckEntry,
    BusHealth,
    CommandRequest,
    CommandResult,
    ConfigReported,
    DeviceHealth,
    Health,
    ReadingCounts,
    decode_message,
    encode_message,
)

ints = st.integers(min_value=0, max_value=2**63 - 1)
floats = st.floats(allow_nan=False)
texts = st.text(max_size=16)
boot_ids = st.from_regex(r"[0-9a-f]{8,32}", fullmatch=True)

acks = st.builds(
    Ack,
    entries=st.lists(
        st.builds(AckEntry, boot_id=boot_ids, ranges=st.lists(st.tuples(ints, ints), max_size=4)),
        max_size=4,
    ),
)
healths = st.builds(
    Health,
    boot_id=boot_ids,
    uptime_s=floats,
    agent_version=texts,
    config_version=ints,
    rss_bytes=ints,
    cpu_percent=floats,
    counts=st.builds(ReadingCounts, read=ints, delivered=ints, pending=ints),
    buffer_oldest_age_s=st.none() | floats,
    buffer_degraded=st.booleans(),
    buses=st.lists(
        st.builds(BusHealth, name=texts, polls_ok=ints, success_rate=st.none() | floats),
        max_size=3,
    ),
    devices=st.lists(
        st.builds(
            DeviceHealth,
            bus=texts,
            name=texts,
            online=st.booleans(),
            last_reading_age_s=st.none() | floats,
            last_error=st.none() | texts,
        ),
        max_size=3,
    ),
    alarms=st.lists(texts, max_size=2),
    soc_temp_c=st.none() | floats,
)
others = st.one_of(
    st.builds(
        ConfigReported,
        version=ints,
        status=st.sampled_from(["applied", "rejected", "rolled_back"]),
        reason=st.none() | texts,
    ),
    st.builds(
        CommandRequest,
        kind=st.sampled_from(["write", "reread", "reboot"]),
        device=st.none() | texts,
        point=st.none() | texts,
        value=st.none() | st.booleans() | floats,
    ),
    st.builds(
        CommandResult,
        status=st.sampled_from(["done", "failed"]),
        reason=st.none() | texts,
        devices=st.lists(texts, max_size=3),
    ),
)
messages = st.one_of(acks, healths, others)


@settings(max_examples=300)
@given(messages)
def test_cbor_messages_are_the_bytes_cbor2_writes(message: msgspec.Struct) -> None:
    assert encode_message(message) == cbor2.dumps(msgspec.to_builtins(message))


@settings(max_examples=300)
@given(messages)
def test_what_cbor2_writes_decodes_to_the_same_message(message: msgspec.Struct) -> None:
    data = cbor2.dumps(msgspec.to_builtins(message))
    assert decode_message(data, type(message)) == message


def test_outside_the_subset_is_a_protocol_error() -> None:
    tagged = cbor2.dumps({"version": 1, "status": "applied", "reason": cbor2.CBORTag(99, "x")})
    with pytest.raises(ProtocolError):
        decode_message(tagged, ConfigReported)
    with pytest.raises(ProtocolError):
        decode_message(cbor2.dumps({"entries": []}) + b"\x00", Ack)
