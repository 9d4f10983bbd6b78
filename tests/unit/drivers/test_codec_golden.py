"""Golden bytes: exact wire bytes in, exact value out, for every data type and word order."""

from __future__ import annotations

import pytest

from drivers.sdk.codec import BlockDecoder, FieldSpec, decode_value, encode_value
from drivers.sdk.datatypes import DataType, RegisterType, WordOrder
from drivers.sdk.errors import DecodeError, EncodeError

A, C, B, D = WordOrder.ABCD, WordOrder.CDAB, WordOrder.BADC, WordOrder.DCBA

GOLDEN = [
    # (data type, order, wire bytes as hex, value)
    (DataType.U16, A, "1234", 0x1234),
    (DataType.U16, C, "1234", 0x1234),
    (DataType.U16, B, "3412", 0x1234),
    (DataType.U16, D, "3412", 0x1234),
    (DataType.I16, A, "ff85", -123),
    (DataType.I16, B, "85ff", -123),
    (DataType.I16, A, "8000", -32768),
    (DataType.U32, A, "11223344", 0x11223344),
    (DataType.U32, C, "33441122", 0x11223344),
    (DataType.U32, B, "22114433", 0x11223344),
    (DataType.U32, D, "44332211", 0x11223344),
    (DataType.I32, A, "fffffffe", -2),
    (DataType.I32, C, "fffeffff", -2),
    (DataType.I32, B, "fffffeff", -2),
    (DataType.I32, D, "feffffff", -2),
    (DataType.F32, A, "43668000", 230.5),
    (DataType.F32, C, "80004366", 230.5),
    (DataType.F32, B, "66430080", 230.5),
    (DataType.F32, D, "00806643", 230.5),
    (DataType.F32, A, "c3584000", -216.25),
    (DataType.U64, A, "0102030405060708", 0x0102030405060708),
    (DataType.U64, C, "0708050603040102", 0x0102030405060708),
    (DataType.U64, B, "0201040306050807", 0x0102030405060708),
    (DataType.U64, D, "0807060504030201", 0x0102030405060708),
    (DataType.I64, A, "fffffffffffffffe", -2),
    (DataType.I64, C, "fffeffffffffffff", -2),
    (DataType.I64, B, "fffffffffffffeff", -2),
    (DataType.I64, D, "feffffffffffffff", -2),
    (DataType.F64, A, "3ff8000000000000", 1.5),
    (DataType.F64, C, "0000000000003ff8", 1.5),
    (DataType.F64, B, "f83f000000000000", 1.5),
    (DataType.F64, D, "000000000000f83f", 1.5),
]


@pytest.mark.parametrize(("data_type", "order", "wire", "value"), GOLDEN)
def test_decode_golden(data_type: DataType, order: WordOrder, wire: str, value: float) -> None:
    field = FieldSpec(position=0, data_type=data_type, order=order)
    decoded = decode_value(field, bytes.fromhex(wire))
    assert decoded == value
    assert type(decoded) is type(value)


@pytest.mark.parametrize(("data_type", "order", "wire", "value"), GOLDEN)
def test_encode_golden(data_type: DataType, order: WordOrder, wire: str, value: float) -> None:
    field = FieldSpec(position=0, data_type=data_type, order=order)
    assert encode_value(field, value).hex() == wire


SCALED = [
    # (data type, scale, offset, wire, value): 0.1 steps read as the decimal people expect
    (DataType.U16, 0.1, 0.0, "00e0", 22.4),
    (DataType.I16, 0.1, 0.0, "ff9c", -10.0),
    (DataType.U16, 0.01, -40.0, "03e8", -30.0),
    (DataType.U16, 2.0, 0.0, "0015", 42.0),
    (DataType.U32, 0.001, 0.0, "0012d687", 1234.567),
]


@pytest.mark.parametrize(("data_type", "scale", "offset", "wire", "value"), SCALED)
def test_scale_and_offset(
    data_type: DataType, scale: float, offset: float, wire: str, value: float
) -> None:
    field = FieldSpec(position=0, data_type=data_type, scale=scale, offset=offset)
    assert decode_value(field, bytes.fromhex(wire)) == value
    assert encode_value(field, value).hex() == wire


def test_block_with_gaps_overlaps_and_mixed_orders() -> None:
    # registers: 0-1 f32 ABCD, 2 unused, 3-4 u32 CDAB, 5 i16 BADC, and 3 read again as u16
    wire = bytes.fromhex("43668000" + "ffff" + "33441122" + "85ff")
    fields = [
        FieldSpec(position=5, data_type=DataType.I16, order=B),
        FieldSpec(position=0, data_type=DataType.F32),
        FieldSpec(position=3, data_type=DataType.U32, order=C),
        FieldSpec(position=3, data_type=DataType.U16, scale=0.1),
    ]
    decoder = BlockDecoder(register_type=RegisterType.HOLDING, count=6, fields=fields)
    assert decoder.decode(wire) == [-123, 230.5, 0x11223344, 1312.4]


def test_bits_block() -> None:
    fields = [FieldSpec(position=p, data_type=DataType.BOOL) for p in (0, 3, 9)]
    decoder = BlockDecoder(register_type=RegisterType.COIL, count=10, fields=fields)
    assert decoder.decode(bytes([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])) == [True, False, True]


@pytest.mark.parametrize("length", [0, 3, 5, 200])
def test_wrong_length_is_a_decode_error(length: int) -> None:
    field = FieldSpec(position=0, data_type=DataType.F32)
    decoder = BlockDecoder(register_type=RegisterType.INPUT, count=2, fields=[field])
    with pytest.raises(DecodeError, match="expected 4 bytes"):
        decoder.decode(bytes(length))


def test_field_outside_block_is_rejected() -> None:
    field = FieldSpec(position=1, data_type=DataType.F32)
    with pytest.raises(DecodeError, match="does not fit"):
        BlockDecoder(register_type=RegisterType.INPUT, count=2, fields=[field])


def test_bool_in_register_table_is_rejected() -> None:
    field = FieldSpec(position=0, data_type=DataType.BOOL)
    with pytest.raises(DecodeError, match="does not go with"):
        BlockDecoder(register_type=RegisterType.HOLDING, count=1, fields=[field])


@pytest.mark.parametrize(("data_type", "value"), [(DataType.U16, 70000), (DataType.I16, -40000)])
def test_encode_out_of_range(data_type: DataType, value: int) -> None:
    with pytest.raises(EncodeError, match="does not fit"):
        encode_value(FieldSpec(position=0, data_type=data_type), value)


def test_encode_nan_into_integer() -> None:
    with pytest.raises(EncodeError, match="not a finite number"):
        encode_value(FieldSpec(position=0, data_type=DataType.U16), float("nan"))
