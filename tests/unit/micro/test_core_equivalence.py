"""protocol.core against cbor2 and protocol.senml on CPython: byte-identical encoding, and
the core decoder reads whatever cbor2 writes (properties over generated data)."""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.core import cbor, f64, senml_pack
from protocol.senml import Record, TelemetryBatch, decode_batch, encode_batch

names = st.from_regex(r"[a-z][a-z0-9_]{0,7}/[a-z][a-z0-9_.:-]{0,11}", fullmatch=True)
units = st.sampled_from(["", "V", "Cel", "%RH", "ug/m3"])
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=20),
)
boot_ids = st.from_regex(r"[0-9a-f]{8,32}", fullmatch=True)
seqs = st.integers(min_value=0, max_value=2**63 - 1)


def _record(name: str, time: float, value: Any, unit: str) -> Record:
    kind = type(value)
    value_fields: dict[str, Any] = (
        {"bool_value": value}
        if kind is bool
        else {"string_value": value}
        if kind is str
        else {"value": float(value)}
    )
    return Record(name=name, time=time, unit=unit or None, **value_fields)


@settings(max_examples=300)
@given(
    boot_ids,
    seqs,
    st.lists(
        st.tuples(names, st.floats(min_value=-1e12, max_value=1e12), values, units),
        min_size=1,
        max_size=20,
    ),
)
def test_core_encoder_is_byte_identical_to_encode_batch(
    boot_id: str, seq: int, records: list[tuple[str, float, Any, str]]
) -> None:
    batch = TelemetryBatch(
        boot_id=boot_id, seq=seq, records=tuple(_record(*record) for record in records)
    )
    assert senml_pack.encode_batch(boot_id, seq, records) == encode_batch(batch)


@settings(max_examples=300)
@given(
    boot_ids,
    seqs,
    st.lists(
        st.tuples(
            names,
            st.integers(min_value=0, max_value=2**45),
            st.one_of(values, st.integers(min_value=-(2**64), max_value=2**64)),
            units,
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_millisecond_times_and_int_values_match_cpython_floats(
    boot_id: str, seq: int, records: list[tuple[str, int, Any, str]]
) -> None:
    # What a float32 MicroPython port sends must equal what CPython computes in float64.
    batch = TelemetryBatch(
        boot_id=boot_id,
        seq=seq,
        records=tuple(_record(n, ms / 1000, v, u) for n, ms, v, u in records),
    )
    assert senml_pack.encode_batch(boot_id, seq, records, True) == encode_batch(batch)


@given(st.integers(min_value=-(2**80), max_value=2**80), st.integers(min_value=1, max_value=2**40))
def test_exact_ratio_is_correctly_rounded(num: int, den: int) -> None:
    assert f64.pack(f64.bits_of_ratio(num, den)) == struct.pack(">d", num / den)


@given(st.integers(min_value=0, max_value=2**45), st.integers(min_value=0, max_value=2**45))
def test_exact_difference_is_ieee_subtraction(a: int, b: int) -> None:
    bits = f64.bits_of_difference(f64.bits_of_ratio(a, 1000), f64.bits_of_ratio(b, 1000))
    assert f64.pack(bits) == struct.pack(">d", a / 1000 - b / 1000)


def _plain(value: Any) -> Any:
    """Normalise what cbor2 decodes (tuples as lists) for comparison."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.binary(max_size=30),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(
            st.one_of(st.text(max_size=8), st.integers(-1000, 1000)), children, max_size=6
        ),
    ),
    max_leaves=30,
)


@settings(max_examples=300)
@given(documents)
def test_core_cbor_matches_cbor2_both_ways(document: Any) -> None:
    encoded = cbor2.dumps(document)
    assert cbor.dumps(document) == encoded
    assert cbor.loads(encoded) == _plain(cbor2.loads(encoded))


@given(st.binary(max_size=64))
def test_core_decoder_raises_only_cbor_error(data: bytes) -> None:
    with contextlib.suppress(cbor.CBORError):
        cbor.loads(data)


@settings(max_examples=100)
@given(
    boot_ids,
    st.integers(min_value=0, max_value=2**40),
    st.lists(st.tuples(names, st.integers(0, 2**42), st.floats(-1e9, 1e9), units), min_size=1),
)
def test_fleet_decoder_reads_the_core_encoding(
    boot_id: str, seq: int, records: list[tuple[str, int, float, str]]
) -> None:
    batch = decode_batch(senml_pack.encode_batch(boot_id, seq, records, True))
    assert (batch.boot_id, batch.seq) == (boot_id, seq)
    base = records[0][1] / 1000
    # The decoder adds each offset (t - bt, as sent) back onto bt.
    assert [(r.name, r.time, r.value) for r in batch.records] == [
        (n, base + (ms / 1000 - base), v) for n, ms, v, _ in records
    ]


@settings(max_examples=100)
@given(
    boot_ids,
    st.lists(
        st.tuples(names, st.integers(0, 2**45), st.integers(-(2**64), 2**64), units), min_size=1
    ),
)
def test_float32_path_matches_the_double_path(
    boot_id: str, records: list[tuple[str, int, int, str]]
) -> None:
    expected = senml_pack.encode_batch(boot_id, 0, records, True)
    senml_pack.DOUBLE = False
    try:
        assert senml_pack.encode_batch(boot_id, 0, records, True) == expected
    finally:
        senml_pack.DOUBLE = True


def test_core_topics_are_the_protocol_topics() -> None:
    from protocol.core import topics as core_topics
    from protocol.topics import Kind, topic_for

    assert set(core_topics.SUFFIXES) == {kind.value for kind in Kind}
    for kind in Kind:
        if kind not in (Kind.CMD_REQ, Kind.CMD_RES):
            assert core_topics.topic("pole-1", kind.value) == topic_for("pole-1", kind)
