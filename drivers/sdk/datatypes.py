"""Register types, data types and word orders: the vocabulary of a register map."""

from __future__ import annotations

import enum
from dataclasses import dataclass

MAX_REGISTERS_PER_READ = 125
"""Modbus limit for one read of holding/input registers (function codes 3 and 4)."""
MAX_BITS_PER_READ = 2000
"""Modbus limit for one read of coils/discrete inputs (function codes 1 and 2)."""


class RegisterType(enum.StrEnum):
    """The four Modbus data tables."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    INPUT = "input"
    HOLDING = "holding"

    @property
    def is_bit(self) -> bool:
        """Coils and discrete inputs hold single bits, the others 16-bit words."""
        return self in (RegisterType.COIL, RegisterType.DISCRETE_INPUT)

    @property
    def read_limit(self) -> int:
        """Most items one read request may return for this table."""
        return MAX_BITS_PER_READ if self.is_bit else MAX_REGISTERS_PER_READ


class DataType(enum.StrEnum):
    """How a value is laid out in registers.

    A bit field is not a type of its own: it is `bit` (and `bits`) on an integer type, so
    one register can carry several flags. A string is `length` registers of text.
    """

    BOOL = "bool"
    U16 = "u16"
    I16 = "i16"
    U32 = "u32"
    I32 = "i32"
    U64 = "u64"
    I64 = "i64"
    F32 = "f32"
    F64 = "f64"
    STRING = "string"


@dataclass(frozen=True, kw_only=True, slots=True)
class TypeLayout:
    """Width and struct code of one data type."""

    registers: int
    """Registers one value occupies; 0 for a string, whose channel says its length."""
    struct_code: str
    is_float: bool = False

    @property
    def is_integer(self) -> bool:
        """Integer types: the ones bit fields and enums may be read from."""
        return self.struct_code in "HhIiQq"

    @property
    def bit_width(self) -> int:
        """Bits in one value of the type."""
        return self.registers * 16


LAYOUTS: dict[DataType, TypeLayout] = {
    DataType.BOOL: TypeLayout(registers=1, struct_code="?"),
    DataType.U16: TypeLayout(registers=1, struct_code="H"),
    DataType.I16: TypeLayout(registers=1, struct_code="h"),
    DataType.U32: TypeLayout(registers=2, struct_code="I"),
    DataType.I32: TypeLayout(registers=2, struct_code="i"),
    DataType.U64: TypeLayout(registers=4, struct_code="Q"),
    DataType.I64: TypeLayout(registers=4, struct_code="q"),
    DataType.F32: TypeLayout(registers=2, struct_code="f", is_float=True),
    DataType.F64: TypeLayout(registers=4, struct_code="d", is_float=True),
    DataType.STRING: TypeLayout(registers=0, struct_code="s"),
}


class WordOrder(enum.StrEnum):
    """Byte order of a multi-byte value as letters, A being the most significant byte.

    For 16-bit types only the byte swap matters (ABCD/CDAB read AB, BADC/DCBA read BA);
    for 64-bit types the pattern extends word-wise (CDAB means GHEFCDAB).
    """

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @property
    def swap_bytes(self) -> bool:
        """The two bytes inside each 16-bit register are swapped."""
        return self in (WordOrder.BADC, WordOrder.DCBA)

    @property
    def little_endian_words(self) -> bool:
        """The least significant register comes first."""
        return self in (WordOrder.CDAB, WordOrder.DCBA)
