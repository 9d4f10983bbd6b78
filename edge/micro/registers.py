"""Compiled drivers (.pkd, written by `polekit micro compile-driver`) and block decoding.

A .pkd file is CBOR: {"v": 1, "name": str, "reads": [[function, address, count, fields]],
"policies": {channel: {"range": [low, high] | None, "filters": [step, ...]}}} with each field
[channel, position, code, swapped, little, multiplier, divisor, offset, unit]: `code` a struct
code ("?" for a bit), multiplier None for an unscaled value. Decoding follows
drivers.sdk.codec.BlockDecoder step for step, so both agents read the same numbers.
"""

import struct

from protocol.core import cbor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FORMAT_VERSION = 1
_WIDTHS = {"H": 1, "h": 1, "I": 2, "i": 2, "Q": 4, "q": 4, "f": 2, "d": 4}


class DriverFormatError(ValueError):
    """A .pkd file this agent cannot use."""


class CompiledDriver:
    """The reads of one device model and how to turn their bytes into channel values."""

    def __init__(self, doc: "dict[str, Any]") -> None:
        if not isinstance(doc, dict) or doc.get("v") != FORMAT_VERSION:
            raise DriverFormatError("not a v1 compiled driver")
        reads = doc.get("reads")
        policies = doc.get("policies")
        if not isinstance(reads, list) or not isinstance(policies, dict):
            raise DriverFormatError("compiled driver needs reads and policies")
        for read in reads:
            _check_read(read)
        self.name = str(doc.get("name"))
        self.reads: "list[Any]" = reads
        self.policies: "dict[str, Any]" = policies

    @classmethod
    def load(cls, path: str) -> "CompiledDriver":
        """Read a .pkd file."""
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            return cls(cbor.loads(data))
        except cbor.CBORError as exc:
            raise DriverFormatError(path + ": " + str(exc)) from None

    def channels(self) -> "list[tuple[str, str]]":
        """(channel, unit) of every channel, in read order."""
        return [(field[0], field[8]) for read in self.reads for field in read[3]]


def _check_read(read: "Any") -> None:
    if not isinstance(read, list) or len(read) != 4 or read[0] not in (1, 2, 3, 4):
        raise DriverFormatError("bad read entry")
    for field in read[3]:
        if len(field) != 9 or (field[2] != "?" and field[2] not in _WIDTHS):
            raise DriverFormatError("bad field entry")
        if field[2] != "?" and field[1] + _WIDTHS[field[2]] > read[2]:
            raise DriverFormatError("field " + str(field[0]) + " runs past its read")


def decode_block(fields: "list[Any]", data: bytes) -> "list[tuple[str, Any, str]]":
    """(channel, value, unit) for every field of one read's raw data."""
    out = []
    for name, position, code, swapped, little, multiplier, divisor, offset, unit in fields:
        if code == "?":
            value: Any = bool(data[position >> 3] >> (position & 7) & 1)
        else:
            start = position * 2
            raw = data[start : start + _WIDTHS[code] * 2]
            if swapped:
                raw = swap_bytes(raw)
            value = struct.unpack(("<" if little else ">") + code, raw)[0]
            if multiplier is not None:
                value = value * multiplier / divisor + offset
        out.append((name, value, unit))
    return out


def swap_bytes(raw: bytes) -> bytes:
    """Swap the two bytes of every 16-bit register."""
    swapped = bytearray(len(raw))
    for index in range(0, len(raw) - 1, 2):  # no extended slice assignment on MicroPython
        swapped[index] = raw[index + 1]
        swapped[index + 1] = raw[index]
    return bytes(swapped)
