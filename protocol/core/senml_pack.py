"""Telemetry batches as SenML-CBOR packs, written byte for byte as protocol.senml.to_pack lays
them out and cbor2 encodes them.

A record is a tuple `(name, time, value, unit)`: value a float or int (label v), a str (vs)
or a bool (vb); unit "" or None for none. Times are float seconds, or with `ms=True` integer
milliseconds turned into float64 exactly (protocol.core.f64), as a float32 port needs.
"""

from protocol.core import cbor, f64
from protocol.core.ids import is_valid_boot_id

# MicroPython has no typing module; type checkers see this import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# RFC 8428 section 6 integer labels, and polekit's two extension labels (text in every encoding).
BASE_TIME = -3
NAME = 0
UNIT = 1
VALUE = 2
STRING_VALUE = 3
BOOL_VALUE = 4
TIME = 6
BOOT_ID = "bid"
SEQUENCE = "seq"

# True where float is binary64 (CPython, the wasm port, some MicroPython builds): there the
# interpreter's own `ms / 1000` is CPython's, and the exact integer path (which allocates
# big ints on every record) is only needed on float32 ports such as the generic ESP32.
DOUBLE = 2.0**40 + 1.0 != 2.0**40
_EXACT_INT = 2**53


def encode_batch(
    boot_id: str, seq: int, records: "list[Any] | tuple[Any, ...]", ms: bool = False
) -> bytes:
    """The CBOR pack of one batch; same bytes as protocol.senml.encode_batch."""
    out = bytearray()
    write_batch(out, boot_id, seq, records, ms)
    return bytes(out)


def write_batch(
    out: bytearray,
    boot_id: str,
    seq: int,
    records: "list[Any] | tuple[Any, ...]",
    ms: bool = False,
) -> None:
    """Append the pack of one batch to `out` (no intermediate pack objects on a small heap)."""
    if not records:
        raise ValueError("a telemetry batch needs at least one record")
    if not is_valid_boot_id(boot_id):
        raise ValueError("boot id must be 8-32 lowercase hex")
    if type(seq) is not int or seq < 0:
        raise ValueError("seq must be a non-negative int")
    cbor.write_head(out, 4, len(records))
    exact = ms and not DOUBLE
    base = records[0][1]
    base_bits = f64.bits_of_ratio(base, 1000) if exact else 0
    base_time = base / 1000 if ms and not exact else base
    first = True
    last_time = None
    offset_bits = 0
    offset = 0.0
    for name, time, value, unit in records:
        if time != last_time:  # the readings of one poll share their time: computed once
            last_time = time
            if exact:
                offset_bits = 0
                if time != base:
                    offset_bits = f64.bits_of_difference(f64.bits_of_ratio(time, 1000), base_bits)
            elif ms:
                offset = time / 1000 - base_time
            else:
                offset = time - base
        has_offset = offset_bits != 0 or offset != 0.0
        size = 2 + (3 if first else 0) + (1 if has_offset else 0) + (1 if unit else 0)
        cbor.write_head(out, 5, size)
        if first:
            out.append(0x22)  # -3: bt
            if exact:
                _write_bits(out, base_bits)
            else:
                cbor.write_float(out, base_time)
            cbor.write_text(out, BOOT_ID)
            cbor.write_text(out, boot_id)
            cbor.write_text(out, SEQUENCE)
            cbor.write_head(out, 0, seq)
            first = False
        out.append(NAME)
        cbor.write_text(out, name)
        if has_offset:
            out.append(TIME)
            if exact:
                _write_bits(out, offset_bits)
            else:
                cbor.write_float(out, offset)
        if unit:
            out.append(UNIT)
            cbor.write_text(out, unit)
        _write_value(out, value)


def _write_value(out: bytearray, value: "Any") -> None:
    kind = type(value)
    if kind is bool:
        out.append(BOOL_VALUE)
        out.append(0xF5 if value else 0xF4)
    elif kind is str:
        out.append(STRING_VALUE)
        cbor.write_text(out, value)
    elif kind is int:
        # float(value) exactly as CPython rounds it, also where float is 32-bit.
        out.append(VALUE)
        if DOUBLE and -_EXACT_INT < value < _EXACT_INT:
            cbor.write_float(out, float(value))
        else:
            _write_bits(out, f64.bits_of_ratio(value, 1))
    elif kind is float:
        out.append(VALUE)
        cbor.write_float(out, value)
    else:
        raise ValueError("a SenML value is a number, a str or a bool")


def _write_bits(out: bytearray, bits: int) -> None:
    out.append(0xFB)
    out.extend(f64.pack(bits))
