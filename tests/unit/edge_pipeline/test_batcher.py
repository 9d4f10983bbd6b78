"""The batcher's SenML-CBOR (protocol.core.senml_pack) is byte for byte protocol.senml's."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.batcher import BatchEncoder
from edge.model import Reading
from protocol.senml import Record, TelemetryBatch, decode_batch, encode_batch

BOOT_ID = "0123456789abcdef"

readings = st.lists(
    st.builds(
        Reading,
        device=st.sampled_from(["meter", "env", "d1"]),
        channel=st.sampled_from(["voltage", "temp", "state", "fw"]),
        value=st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(min_value=-(2**64), max_value=2**64),
            st.booleans(),
            st.text(max_size=12),
        ),
        ts=st.floats(min_value=1.6e9, max_value=1.8e9),
        unit=st.sampled_from(["", "V", "Cel"]),
    ),
    min_size=1,
    max_size=30,
)


def _expected(items: list[Reading], seq: int) -> bytes:
    """What the batcher wrote before it used the core encoder: Record structs + cbor2."""
    records = []
    for reading in items:
        name = f"{reading.device}/{reading.channel}"
        value: Any = reading.value
        unit = reading.unit or None
        if type(value) is bool:
            records.append(Record(name=name, time=reading.ts, bool_value=value, unit=unit))
        elif type(value) is str:
            records.append(Record(name=name, time=reading.ts, string_value=value, unit=unit))
        else:
            records.append(Record(name=name, time=reading.ts, value=float(value), unit=unit))
    return encode_batch(TelemetryBatch(boot_id=BOOT_ID, seq=seq, records=tuple(records)))


@settings(max_examples=200)
@given(readings, st.integers(min_value=0, max_value=2**63 - 1))
def test_cbor_batches_are_the_bytes_protocol_senml_writes(items: list[Reading], seq: int) -> None:
    batch, rejected = BatchEncoder(boot_id=BOOT_ID, encoding="cbor").encode(
        items, seq=seq, created=0.0
    )
    assert rejected == 0
    assert batch is not None
    assert batch.payload == _expected(items, seq)
    assert batch.n_readings == len(items)


@settings(max_examples=50)
@given(readings)
def test_every_encoding_decodes_to_the_same_batch(items: list[Reading]) -> None:
    decoded = [
        decode_batch(batch.payload, encoding)
        for encoding in ("cbor", "msgpack", "json")
        if (
            batch := BatchEncoder(boot_id=BOOT_ID, encoding=encoding).encode(
                items, seq=7, created=0.0
            )[0]
        )
    ]
    assert len(decoded) == 3
    assert decoded[0] == decoded[1] == decoded[2]
