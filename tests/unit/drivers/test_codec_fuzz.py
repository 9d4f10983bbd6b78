"""Fuzz: whatever bytes or field layouts come in, the codec raises only DriverError."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from drivers.sdk.codec import BlockDecoder, FieldSpec, encode_value
from drivers.sdk.datatypes import LAYOUTS, DataType, RegisterType, WordOrder
from drivers.sdk.errors import DecodeError, DriverError

REGISTER_TYPES = [t for t in DataType if t not in (DataType.BOOL, DataType.STRING)]

fields = st.builds(
    FieldSpec,
    position=st.integers(min_value=-3, max_value=40),
    data_type=st.sampled_from(list(DataType)),
    order=st.sampled_from(list(WordOrder)),
    scale=st.sampled_from([1.0, 0.1, 0.01, 2.0, -1.0]),
    offset=st.sampled_from([0.0, -40.0, 1.5]),
    length=st.integers(min_value=-1, max_value=70),
    bit=st.none() | st.integers(min_value=-2, max_value=70),
    bits=st.integers(min_value=-1, max_value=70),
    enum=st.sampled_from([(), ((0, "ok"), (1, "fault"))]),
)


@given(
    register_type=st.sampled_from(list(RegisterType)),
    count=st.integers(min_value=-1, max_value=40),
    layout=st.lists(fields, max_size=12),
    data=st.binary(max_size=100),
)
def test_decoder_raises_only_driver_errors(
    register_type: RegisterType, count: int, layout: list[FieldSpec], data: bytes
) -> None:
    try:
        decoder = BlockDecoder(register_type=register_type, count=count, fields=layout)
        values = decoder.decode(data)
    except DecodeError:
        return
    assert len(values) == len(layout)


@given(
    data_type=st.sampled_from(REGISTER_TYPES),
    order=st.sampled_from(list(WordOrder)),
    data=st.data(),
)
def test_well_sized_data_always_decodes(
    data_type: DataType, order: WordOrder, data: st.DataObject
) -> None:
    width = LAYOUTS[data_type].registers
    raw = data.draw(st.binary(min_size=width * 2, max_size=width * 2))
    field = FieldSpec(position=0, data_type=data_type, order=order)
    decoder = BlockDecoder(register_type=RegisterType.HOLDING, count=width, fields=[field])
    [value] = decoder.decode(raw)
    if not LAYOUTS[data_type].is_float:
        # integers survive an encode/decode round trip bit for bit
        assert encode_value(field, value) == raw


@given(
    data_type=st.sampled_from(REGISTER_TYPES),
    value=st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_encoder_raises_only_driver_errors(data_type: DataType, value: float) -> None:
    with contextlib.suppress(DriverError):
        encode_value(FieldSpec(position=0, data_type=data_type), value)


@given(field=fields, value=st.one_of(st.integers(), st.floats(), st.text(), st.booleans()))
def test_any_field_encodes_or_raises_a_driver_error(field: FieldSpec, value: object) -> None:
    with contextlib.suppress(DriverError):
        encode_value(field, value, current=b"\x12\x34")  # type: ignore[arg-type]
