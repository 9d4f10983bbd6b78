"""Block decoders compiled once per read request, and the matching encoder.

Decoding is on the hot path (every poll of every device), so a BlockDecoder does the
interpretation work at compile time: fields that share a byte source and endianness are
unpacked by ONE precompiled struct call, and only scaled fields touch Python arithmetic.
"""

from __future__ import annotations

import dataclasses
import struct
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from drivers.sdk.datatypes import LAYOUTS, DataType, RegisterType, WordOrder
from drivers.sdk.errors import DecodeError, EncodeError

Value = float | int | bool | str


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldSpec:
    """One value inside a read block: where it starts and how to turn it into a number."""

    position: int
    """Offset from the block start, in registers (or bits for coils/discrete inputs)."""
    data_type: DataType
    order: WordOrder = WordOrder.ABCD
    scale: float = 1.0
    offset: float = 0.0
    length: int = 0
    """Strings only: registers of text (two characters each)."""
    bit: int | None = None
    """Bit fields: the lowest bit (0 = least significant) of the field inside the integer."""
    bits: int = 1
    """Bit fields: how many bits; a one-bit field reads as a bool."""
    enum: tuple[tuple[int, str], ...] = ()
    """Code -> text: the integer (after bit extraction) is reported as this text."""

    @property
    def width(self) -> int:
        """Registers (or bits) the field occupies."""
        if self.data_type is DataType.STRING:
            return self.length
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
        "_post",
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
            check_field(field)
        self._nbytes = count if register_type.is_bit else count * 2
        self._groups = () if register_type.is_bit else _compile_groups(fields)
        self._needs_swap = any(group.swapped for group in self._groups)
        self._post = tuple(
            (i, post) for i, f in enumerate(fields) if (post := _post_step(f)) is not None
        )
        self._scaled = tuple(
            (i, *_scaling(f.scale), f.offset)
            for i, f in enumerate(fields)
            if (f.scale != 1.0 or f.offset != 0.0) and not f.enum
        )
        self._bit_positions = tuple(f.position for f in fields)

    def decode(self, data: bytes) -> list[Value]:
        """Values of all fields; raises DecodeError when data is not exactly one block."""
        if len(data) != self._nbytes:
            raise DecodeError(f"expected {self._nbytes} bytes for {self.count}, got {len(data)}")
        if self.register_type.is_bit:
            return [data[p] != 0 for p in self._bit_positions]
        out: list[Any] = [0] * self._n
        swapped = swap_register_bytes(data) if self._needs_swap else data
        for group in self._groups:
            values = group.unpack_from(swapped if group.swapped else data)
            for index, value in zip(group.indices, values, strict=True):
                out[index] = value
        for index, post in self._post:
            out[index] = post(out[index])
        for index, multiplier, divisor, offset in self._scaled:
            out[index] = out[index] * multiplier / divisor + offset
        return out


def check_field(field: FieldSpec) -> None:
    """Raise DecodeError when a field's string, bit-field or enum settings contradict its type."""
    layout = LAYOUTS[field.data_type]
    if field.data_type is DataType.STRING:
        if not 1 <= field.length <= MAX_STRING_REGISTERS:
            raise DecodeError(f"a string needs a length of 1..{MAX_STRING_REGISTERS} registers")
        if field.order.little_endian_words:
            raise DecodeError("a string is read in ABCD or BADC order only")
    elif field.length:
        raise DecodeError("length only goes with string")
    if field.bit is not None:
        if not layout.is_integer:
            raise DecodeError(f"a bit field needs an integer type, not {field.data_type}")
        if field.bit < 0 or field.bits < 1 or field.bit + field.bits > layout.bit_width:
            raise DecodeError(
                f"bits {field.bit}..{field.bit + field.bits - 1} do not fit {field.data_type}"
            )
    if field.enum and not layout.is_integer:
        raise DecodeError(f"an enum needs an integer type, not {field.data_type}")


MAX_STRING_REGISTERS = 64


def _struct_code(field: FieldSpec) -> str:
    if field.data_type is DataType.STRING:
        return f"{field.length * 2}s"
    return LAYOUTS[field.data_type].struct_code


def _post_step(field: FieldSpec) -> Callable[[Any], Value] | None:
    """What turns the unpacked integer or bytes into the value: bits, enum text, text."""
    if field.data_type is DataType.STRING:
        return _text
    steps: list[Callable[[Any], Any]] = []
    if field.bit is not None:
        shift, mask = field.bit, (1 << field.bits) - 1
        if field.bits == 1:
            steps.append(lambda raw: bool((raw >> shift) & 1))
        else:
            steps.append(lambda raw: (raw >> shift) & mask)
    if field.enum:
        table = dict(field.enum)
        steps.append(lambda code: table.get(int(code), f"code {int(code)}"))
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]
    first, second = steps
    return lambda raw: second(first(raw))


def _text(raw: bytes) -> str:
    """Device strings are NUL or space padded ASCII; anything else is shown, not fatal."""
    return raw.split(b"\x00", 1)[0].rstrip(b" ").decode("ascii", errors="replace")


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
                fmt.append(_struct_code(field))
                cursor = field.position + field.width
            unpack = struct.Struct("".join(fmt)).unpack_from
            compiled.append(_Group(unpack, swapped, tuple(i for i, _ in group)))
    return tuple(compiled)


def decode_value(field: FieldSpec, data: bytes) -> Value:
    """Decode a single field from its own bytes (tools and tests; the agent uses blocks)."""
    register_type = RegisterType.COIL if field.data_type is DataType.BOOL else RegisterType.HOLDING
    at_zero = dataclasses.replace(field, position=0)
    return BlockDecoder(register_type=register_type, count=field.width, fields=[at_zero]).decode(
        data
    )[0]


def encode_value(field: FieldSpec, value: Value, *, current: bytes | None = None) -> bytes:
    """Wire bytes of one engineering value (scale and offset undone); raises EncodeError.

    A bit field only changes its own bits of `current` (the register's present bytes,
    zeros when not given), so flags sharing one register can be written one at a time.
    """
    try:
        check_field(field)
    except DecodeError as exc:
        raise EncodeError(str(exc)) from None
    if field.data_type is DataType.BOOL:
        return b"\x01" if value else b"\x00"
    if field.data_type is DataType.STRING:
        return _encode_text(field, value)
    if field.enum and isinstance(value, str):
        value = _enum_code(field, value)
    elif isinstance(value, str):
        raise EncodeError(f"{value!r} is text, but the field is {field.data_type}")
    if field.bit is None:
        return _pack(field, _raw_number(field, value))
    code = int(bool(value)) if isinstance(value, bool) else _raw_number(field, value)
    mask = (1 << field.bits) - 1
    if not isinstance(code, int) or not 0 <= code <= mask:
        raise EncodeError(f"{value!r} does not fit {field.bits} bit(s)")
    plain = dataclasses.replace(field, bit=None, bits=1, enum=())
    width = LAYOUTS[field.data_type].registers * 2
    present = current if current is not None and len(current) == width else bytes(width)
    container = _decode_plain(plain, present)
    if not isinstance(container, int):  # unreachable: bit fields are integer types
        raise EncodeError("a bit field needs an integer type")
    bits = 1 << LAYOUTS[field.data_type].bit_width
    merged = (container % bits & ~(mask << field.bit)) | (code << field.bit)
    if not layout_unsigned(field.data_type) and merged >= bits // 2:
        merged -= bits
    return _pack(plain, merged)


def layout_unsigned(data_type: DataType) -> bool:
    """Unsigned integer types (struct codes in upper case)."""
    return LAYOUTS[data_type].struct_code.isupper()


def _decode_plain(field: FieldSpec, data: bytes) -> Value:
    return BlockDecoder(
        register_type=RegisterType.HOLDING, count=field.width, fields=[field]
    ).decode(data)[0]


def _enum_code(field: FieldSpec, text: str) -> int:
    for code, name in field.enum:
        if name == text:
            return code
    raise EncodeError(f"{text!r} is not one of {[name for _, name in field.enum]}")


def _raw_number(field: FieldSpec, value: float | int) -> float | int:
    if isinstance(value, int) and ((field.scale == 1.0 and field.offset == 0.0) or field.enum):
        return value  # exact: a float detour would lose the low bits of 64-bit counters
    raw: float | int = (float(value) - field.offset) / field.scale
    if not LAYOUTS[field.data_type].is_float:
        try:
            raw = round(raw)
        except (ValueError, OverflowError) as exc:
            raise EncodeError(f"{value!r} is not a finite number for {field.data_type}") from exc
    return raw


def _pack(field: FieldSpec, raw: float | int) -> bytes:
    swapped, endian = _source(field.order)
    try:
        packed = struct.pack(endian + LAYOUTS[field.data_type].struct_code, raw)
    except (struct.error, OverflowError) as exc:
        raise EncodeError(f"{raw!r} does not fit {field.data_type}: {exc}") from exc
    return swap_register_bytes(packed) if swapped else packed


def _encode_text(field: FieldSpec, value: Value) -> bytes:
    if not isinstance(value, str):
        raise EncodeError(f"{value!r} is not text for a string field")
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"{value!r} is not ASCII") from exc
    size = field.length * 2
    if len(raw) > size:
        raise EncodeError(f"{value!r} is longer than {size} characters")
    padded = raw.ljust(size, b"\x00")
    return swap_register_bytes(padded) if field.order.swap_bytes else padded


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
