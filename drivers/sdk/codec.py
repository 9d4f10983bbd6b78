"""Block decoders compiled once per read request, and the matching encoder.

Decoding is on the hot path (every poll of every device), so a BlockDecoder does the
interpretation work at compile time: fields that share a byte source and endianness are
unpacked by ONE precompiled struct call, and only scaled fields touch Python arithmetic.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from drivers.sdk.datatypes import LAYOUTS, DataType, RegisterType, WordOrder
from drivers.sdk.errors import DecodeError, EncodeError

Value = float | int | bool


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldSpec:
    """One value inside a read block: where it starts and how to turn it into a number."""

    position: int
    """Offset from the block start, in registers (or bits for coils/discrete inputs)."""
    data_type: DataType
    order: WordOrder = WordOrder.ABCD
    scale: float = 1.0
    offset: float = 0.0

    @property
    def width(self) -> int:
        """Registers (or bits) the field occupies."""
        return LAYOUTS[self.data_type].registers


@dataclass(frozen=True, slots=True)
class _Group:
    """Fields unpacked together by one struct call."""

    unpack_from: Callable[[bytes], tuple[Any, ...]]
    swapped: bool
    indices: tuple[int, ...]


def swap_register_bytes(data: bytes) -> bytes:
    """Swap the two bytes of every 16-bit register (BADC/CDAB orders read from this)."""
    words = array("H", data)
    words.byteswap()
    return words.tobytes()


def _source(order: WordOrder) -> tuple[bool, str]:
    # BADC and CDAB become ABCD and DCBA once each register's bytes are swapped.
    swapped = order.swap_bytes != order.little_endian_words
    return swapped, "<" if order.little_endian_words else ">"


class BlockDecoder:
    """Decodes the raw bytes of one read response into values, in field order."""

    __slots__ = (
        "_bit_positions",
        "_groups",
        "_n",
        "_nbytes",
        "_needs_swap",
        "_scaled",
        "count",
        "register_type",
    )

    def __init__(
        self, *, register_type: RegisterType, count: int, fields: Sequence[FieldSpec]
    ) -> None:
        self.register_type = register_type
        self.count = count
        self._n = len(fields)
        for field in fields:
            if field.position < 0 or field.position + field.width > count:
                raise DecodeError(f"field at {field.position} does not fit a block of {count}")
            if register_type.is_bit != (field.data_type is DataType.BOOL):
                raise DecodeError(f"{field.data_type} does not go with {register_type} registers")
        self._nbytes = count if register_type.is_bit else count * 2
        self._groups = () if register_type.is_bit else _compile_groups(fields)
        self._needs_swap = any(group.swapped for group in self._groups)
        self._scaled = tuple(
            (i, *_scaling(f.scale), f.offset)
            for i, f in enumerate(fields)
            if f.scale != 1.0 or f.offset != 0.0
        )
        self._bit_positions = tuple(f.position for f in fields)

    def decode(self, data: bytes) -> list[Value]:
        """Values of all fields; raises DecodeError when data is not exactly one block."""
        if len(data) != self._nbytes:
            raise DecodeError(f"expected {self._nbytes} bytes for {self.count}, got {len(data)}")
        if self.register_type.is_bit:
            return [data[p] != 0 for p in self._bit_positions]
        out: list[Value] = [0] * self._n
        swapped = swap_register_bytes(data) if self._needs_swap else data
        for group in self._groups:
            values = group.unpack_from(swapped if group.swapped else data)
            for index, value in zip(group.indices, values, strict=True):
                out[index] = value
        for index, multiplier, divisor, offset in self._scaled:
            out[index] = out[index] * multiplier / divisor + offset
        return out


def _scaling(scale: float) -> tuple[float, float]:
    """(multiplier, divisor): 0.1 becomes (1, 10) so 224 reads 22.4, not 22.400000000000002."""
    inverse = 1.0 / scale
    if abs(scale) < 1.0 and abs(inverse - round(inverse)) < 1e-9:
        return 1.0, float(round(inverse))
    return scale, 1.0


def _compile_groups(fields: Sequence[FieldSpec]) -> tuple[_Group, ...]:
    """Pack non-overlapping fields with the same source and endianness into one format."""
    # key -> list of open groups, each a list of (field index, field); overlap opens a new one
    buckets: dict[tuple[bool, str], list[list[tuple[int, FieldSpec]]]] = {}
    ordered = sorted(enumerate(fields), key=lambda item: item[1].position)
    for index, field in ordered:
        groups = buckets.setdefault(_source(field.order), [])
        for group in groups:
            last = group[-1][1]
            if last.position + last.width <= field.position:
                group.append((index, field))
                break
        else:
            groups.append([(index, field)])
    compiled = []
    for (swapped, endian), groups in buckets.items():
        for group in groups:
            fmt, cursor = [endian], 0
            for _, field in group:
                if field.position > cursor:
                    fmt.append(f"{(field.position - cursor) * 2}x")
                fmt.append(LAYOUTS[field.data_type].struct_code)
                cursor = field.position + field.width
            unpack = struct.Struct("".join(fmt)).unpack_from
            compiled.append(_Group(unpack, swapped, tuple(i for i, _ in group)))
    return tuple(compiled)


def decode_value(field: FieldSpec, data: bytes) -> Value:
    """Decode a single field from its own bytes (tools and tests; the agent uses blocks)."""
    register_type = RegisterType.COIL if field.data_type is DataType.BOOL else RegisterType.HOLDING
    at_zero = FieldSpec(
        position=0,
        data_type=field.data_type,
        order=field.order,
        scale=field.scale,
        offset=field.offset,
    )
    return BlockDecoder(register_type=register_type, count=field.width, fields=[at_zero]).decode(
        data
    )[0]


def encode_value(field: FieldSpec, value: Value) -> bytes:
    """Wire bytes of one engineering value (scale and offset undone); raises EncodeError."""
    layout = LAYOUTS[field.data_type]
    if field.data_type is DataType.BOOL:
        return b"\x01" if value else b"\x00"
    raw: float | int
    if isinstance(value, int) and field.scale == 1.0 and field.offset == 0.0:
        raw = value  # exact: a float detour would lose the low bits of 64-bit counters
    else:
        raw = (float(value) - field.offset) / field.scale
    if not layout.is_float:
        try:
            raw = round(raw)
        except (ValueError, OverflowError) as exc:
            raise EncodeError(f"{value!r} is not a finite number for {field.data_type}") from exc
    swapped, endian = _source(field.order)
    try:
        packed = struct.pack(endian + layout.struct_code, raw)
    except (struct.error, OverflowError) as exc:
        raise EncodeError(f"{value!r} does not fit {field.data_type}: {exc}") from exc
    return swap_register_bytes(packed) if swapped else packed


def registers_of(data: bytes) -> list[int]:
    """Big-endian 16-bit register values of raw register bytes."""
    if len(data) % 2:
        raise DecodeError(f"register data has an odd length ({len(data)} bytes)")
    return list(struct.unpack(f">{len(data) // 2}H", data))


def bytes_of(registers: Sequence[int]) -> bytes:
    """Raw bytes of big-endian 16-bit register values."""
    try:
        return struct.pack(f">{len(registers)}H", *registers)
    except struct.error as exc:
        raise EncodeError(f"not 16-bit register values: {exc}") from exc
