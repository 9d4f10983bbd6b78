"""Untrusted bytes: every decoder raises ProtocolError and nothing else (hypothesis)."""

from __future__ import annotations

import contextlib

import cbor2
import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from protocol.messages import Ack, ConfigReported, Health, decode_message
from protocol.senml import Record, TelemetryBatch, decode_batch, encode_batch

ENCODINGS = st.sampled_from(["cbor", "msgpack", "json"])
MESSAGE_TYPES = st.sampled_from([Ack, Health, ConfigReported])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
labels = st.one_of(st.sampled_from([-3, 0, 1, 2, 3, 4, 6, "bid", "seq"]), st.integers(), st.text())
structures = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(labels, children, max_size=6),
    ),
    max_leaves=25,
)


def _decode_or_protocol_error(data: bytes, encoding: str) -> None:
    with contextlib.suppress(ProtocolError):
        decode_batch(data, encoding)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200), ENCODINGS)
def test_random_bytes_only_raise_protocol_error(data: bytes, encoding: str) -> None:
    _decode_or_protocol_error(data, encoding)


@settings(max_examples=400, deadline=None)
@given(structures)
def test_random_cbor_structures_only_raise_protocol_error(value: object) -> None:
    _decode_or_protocol_error(cbor2.dumps(value), "cbor")


@settings(max_examples=200, deadline=None)
@given(structures)
def test_random_msgpack_structures_only_raise_protocol_error(value: object) -> None:
    try:
        data = msgpack.packb(value, use_bin_type=True)
    except (OverflowError, TypeError, ValueError):
        return  # not representable in msgpack: nothing to feed the decoder
    _decode_or_protocol_error(data, "msgpack")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), ENCODINGS, MESSAGE_TYPES)
def test_control_messages_only_raise_protocol_error(
    data: bytes, encoding: str, type_: type
) -> None:
    with contextlib.suppress(ProtocolError):
        decode_message(data, type_, encoding)  # type: ignore[arg-type]


names = st.from_regex(r"[a-z][a-z0-9_]{0,10}/[a-z][a-z0-9_]{0,10}", fullmatch=True)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
records = st.builds(
    Record,
    name=names,
    time=st.floats(min_value=1.6e9, max_value=2.0e9),
    value=finite,
    unit=st.one_of(st.none(), st.sampled_from(["V", "A", "Cel", "%RH"])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(records, min_size=1, max_size=20), st.integers(0, 2**40), ENCODINGS)
def test_valid_batches_round_trip(recs: list[Record], seq: int, encoding: str) -> None:
    batch = TelemetryBatch(boot_id="00112233aabbccdd", seq=seq, records=tuple(recs))
    decoded = decode_batch(encode_batch(batch, encoding), encoding)  # type: ignore[arg-type]
    assert decoded.boot_id == batch.boot_id
    assert decoded.seq == seq
    assert [r.name for r in decoded.records] == [r.name for r in recs]
    assert [r.value for r in decoded.records] == [r.value for r in recs]
    # Times travel relative to the base time; float arithmetic may move the last bit.
    for got, want in zip(decoded.records, recs, strict=True):
        assert abs(got.time - want.time) <= 1e-6 * max(1.0, abs(want.time))
