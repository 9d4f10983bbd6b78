"""The CBOR (RFC 8949) subset polekit speaks, byte-compatible with cbor2's default encoder.

Encoded: None, bool, int (-2**64 .. 2**64-1), float (always float64, as cbor2 does; NaN and
infinities as cbor2's half-precision forms), str, bytes/bytearray, list/tuple, dict and
OrderedMap. Decoded: all of those plus half/single floats; tags, indefinite lengths and
simple values other than false/true/null are refused with CBORError.
"""

import struct

# MicroPython has no typing module; type checkers see this import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


_MAX_DEPTH = 32


class CBORError(ValueError):
    """Bytes that are not CBOR of the subset polekit uses."""


class OrderedMap:
    """A map written in the order of its pairs (MicroPython's dict has no stable order)."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: "list[tuple[Any, Any]]") -> None:
        self.pairs = pairs


def write_head(out: bytearray, major: int, n: int) -> None:
    """Append a major type and argument in cbor2's (shortest) form."""
    major <<= 5
    if n < 24:
        out.append(major | n)
    elif n < 0x100:
        out.append(major | 24)
        out.append(n)
    elif n < 0x10000:
        out.append(major | 25)
        out.extend(struct.pack(">H", n))
    elif n < 0x100000000:
        out.append(major | 26)
        out.extend(struct.pack(">I", n))
    elif n < 0x10000000000000000:
        out.append(major | 27)
        out.extend(n.to_bytes(8, "big"))
    else:
        raise CBORError("integer out of the 64-bit CBOR range")


def write_float(out: bytearray, value: float) -> None:
    """Append a float the way cbor2 does: float64, or half-precision NaN/inf."""
    if value != value:
        out.extend(b"\xf9\x7e\x00")
    elif value in (_INF, -_INF):
        out.extend(b"\xf9\x7c\x00" if value > 0 else b"\xf9\xfc\x00")
    else:
        out.append(0xFB)
        out.extend(struct.pack(">d", value))


def write_text(out: bytearray, text: str) -> None:
    """Append a UTF-8 text string."""
    raw = text.encode()
    write_head(out, 3, len(raw))
    out.extend(raw)


def write(out: bytearray, obj: "Any") -> None:
    """Append one value (recursively)."""
    kind = type(obj)
    if obj is None:
        out.append(0xF6)
    elif kind is bool:
        out.append(0xF5 if obj else 0xF4)
    elif kind is int:
        if obj >= 0:
            write_head(out, 0, obj)
        else:
            write_head(out, 1, -1 - obj)
    elif kind is float:
        write_float(out, obj)
    elif kind is str:
        write_text(out, obj)
    elif kind is bytes or kind is bytearray:
        write_head(out, 2, len(obj))
        out.extend(obj)
    elif kind is list or kind is tuple:
        write_head(out, 4, len(obj))
        for item in obj:
            write(out, item)
    elif kind is dict:
        write_head(out, 5, len(obj))
        for key in obj:
            write(out, key)
            write(out, obj[key])
    elif kind is OrderedMap:
        write_head(out, 5, len(obj.pairs))
        for key, value in obj.pairs:
            write(out, key)
            write(out, value)
    else:
        raise CBORError("cannot encode " + str(kind))


def dumps(obj: "Any") -> bytes:
    """The CBOR bytes of a value; same bytes as cbor2.dumps for the supported types."""
    out = bytearray()
    write(out, obj)
    return bytes(out)


def loads(data: "bytes | bytearray | memoryview") -> "Any":
    """Decode exactly one CBOR value; CBORError for anything else (trailing bytes too)."""
    buf = bytes(data)
    try:
        value, pos = _read(buf, 0, 0)
    except IndexError:
        raise CBORError("truncated CBOR") from None
    if pos != len(buf):
        raise CBORError("trailing bytes after the CBOR value")
    return value


def _argument(buf: bytes, pos: int, info: int) -> "tuple[int, int]":
    if info < 24:
        return info, pos
    if info == 24:
        return buf[pos], pos + 1
    if 25 <= info <= 27:
        size = 1 << (info - 24)
        _need(buf, pos, size)
        return int.from_bytes(buf[pos : pos + size], "big"), pos + size
    raise CBORError("indefinite or reserved length")


def _need(buf: bytes, pos: int, size: int) -> None:
    # Checked up front: MicroPython and CPython raise different errors on short buffers.
    if pos + size > len(buf):
        raise CBORError("truncated CBOR")


def _read(buf: bytes, pos: int, depth: int) -> "tuple[Any, int]":
    if depth > _MAX_DEPTH:
        raise CBORError("CBOR nested too deeply")
    initial = buf[pos]
    major = initial >> 5
    info = initial & 0x1F
    pos += 1
    if major == 7:
        return _simple(buf, pos, info)
    n, pos = _argument(buf, pos, info)
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos
    if major == 2 or major == 3:
        end = pos + n
        if end > len(buf):
            raise CBORError("truncated CBOR string")
        raw = buf[pos:end]
        if major == 2:
            return raw, end
        try:
            return raw.decode(), end
        except UnicodeError:
            raise CBORError("invalid UTF-8 in a text string") from None
    if major == 6:
        raise CBORError("CBOR tags are not part of the polekit subset")
    # Every item takes at least one byte: a length beyond the buffer is a lie, not a loop.
    if n > len(buf) - pos:
        raise CBORError("truncated CBOR container")
    if major == 4:
        items = []
        for _ in range(n):
            item, pos = _read(buf, pos, depth + 1)
            items.append(item)
        return items, pos
    result = {}
    for _ in range(n):
        key, pos = _read(buf, pos, depth + 1)
        value, pos = _read(buf, pos, depth + 1)
        try:
            result[key] = value
        except TypeError:
            raise CBORError("unhashable CBOR map key") from None
    return result, pos


def _simple(buf: bytes, pos: int, info: int) -> "tuple[Any, int]":
    if info == 20:
        return False, pos
    if info == 21:
        return True, pos
    if info == 22:
        return None, pos
    if info == 25:
        _need(buf, pos, 2)
        return _half(buf[pos] << 8 | buf[pos + 1]), pos + 2
    if info == 26:
        _need(buf, pos, 4)
        return struct.unpack_from(">f", buf, pos)[0], pos + 4
    if info == 27:
        _need(buf, pos, 8)
        return struct.unpack_from(">d", buf, pos)[0], pos + 8
    raise CBORError("unsupported CBOR simple value")


def _half(bits: int) -> float:
    # struct has no 'e' on MicroPython: decode binary16 by hand.
    sign = -1.0 if bits & 0x8000 else 1.0
    exponent = (bits >> 10) & 0x1F
    fraction = bits & 0x3FF
    if exponent == 0:
        return sign * fraction * 2.0**-24
    if exponent == 31:
        return sign * _INF if fraction == 0 else _NAN
    return sign * (1024 + fraction) * 2.0 ** (exponent - 25)


_INF = float("inf")
_NAN = float("nan")
