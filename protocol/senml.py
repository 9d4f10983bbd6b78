"""Telemetry batches as SenML packs (RFC 8428) in CBOR, MessagePack or JSON.

A batch is one SenML pack: an array of records. The first record carries the base time
(`bt`) and two extension labels, `bid` (the agent's boot id) and `seq` (the batch sequence
under that boot id), which the fleet uses as its dedup key. Record times are relative to `bt`.
CBOR and MessagePack use SenML's integer labels; JSON uses the string labels.

cbor2 and msgpack are imported when first used: the edge agent writes its CBOR batches with
protocol.core.senml_pack (same bytes) and imports this module for its types only.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec

# The SenML labels (RFC 8428 integer labels, polekit's "bid"/"seq") come from the codec core
# the MicroPython agent shares, so both agents write the same maps.
from protocol.core.senml_pack import (
    BASE_TIME,
    BOOL_VALUE,
    BOOT_ID,
    NAME,
    SEQUENCE,
    STRING_VALUE,
    TIME,
    UNIT,
    VALUE,
)
from protocol.encoding import MAX_PAYLOAD_BYTES, Encoding, check_encoding
from protocol.errors import ProtocolError
from protocol.ids import is_valid_boot_id

_STRING_LABELS: dict[int | str, str] = {
    BASE_TIME: "bt",
    NAME: "n",
    UNIT: "u",
    VALUE: "v",
    STRING_VALUE: "vs",
    BOOL_VALUE: "vb",
    TIME: "t",
    BOOT_ID: BOOT_ID,
    SEQUENCE: SEQUENCE,
}
_INT_LABELS = {text: label for label, text in _STRING_LABELS.items()}
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:./_-]{0,127}")
_MAX_SEQUENCE = 2**63 - 1
_MAX_RECORDS = 100_000


class Record(msgspec.Struct, frozen=True, gc=False):
    """One SenML record: a named value at an absolute time."""

    name: str
    """`{device}/{channel}` relative to the device in the topic."""
    time: float
    """Unix time in seconds."""
    value: float | None = None
    string_value: str | None = None
    bool_value: bool | None = None
    unit: str | None = None


class TelemetryBatch(msgspec.Struct, frozen=True):
    """The unit of telemetry delivery and of deduplication: (device, boot_id, seq)."""

    boot_id: str
    seq: int
    records: tuple[Record, ...]


def encode_batch(batch: TelemetryBatch, encoding: Encoding = "cbor") -> bytes:
    """Serialise a batch; the same batch always gives the same bytes."""
    if not batch.records:
        raise ProtocolError("a telemetry batch needs at least one record")
    pack = to_pack(batch)
    encoding = check_encoding(encoding)
    if encoding == "cbor":
        import cbor2

        return bytes(cbor2.dumps(pack))
    if encoding == "msgpack":
        import msgpack

        return bytes(msgpack.packb(pack, use_bin_type=True))
    return json.dumps(
        [{_STRING_LABELS[k]: v for k, v in item.items()} for item in pack],
        separators=(",", ":"),
    ).encode()


def decode_batch(data: bytes, encoding: Encoding = "cbor") -> TelemetryBatch:
    """Parse untrusted bytes into a batch; raises ProtocolError and nothing else."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProtocolError("telemetry payload must be bytes")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"telemetry payload of {len(data)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    encoding = check_encoding(encoding)
    try:
        if encoding == "cbor":
            import cbor2

            pack = cbor2.loads(bytes(data))
        elif encoding == "msgpack":
            import msgpack

            pack = msgpack.unpackb(bytes(data), raw=False, strict_map_key=False)
        else:
            pack = [
                {_INT_LABELS.get(k, k): v for k, v in item.items()}
                if isinstance(item, dict)
                else item
                for item in _json_array(json.loads(bytes(data)))
            ]
    except ProtocolError:
        raise
    except Exception as exc:
        raise ProtocolError(f"undecodable {encoding} telemetry: {type(exc).__name__}") from None
    return from_pack(pack)


def to_pack(batch: TelemetryBatch) -> list[dict[int | str, Any]]:
    """The SenML pack (list of label->value maps) for a batch, with integer labels."""
    base_time = batch.records[0].time
    pack: list[dict[int | str, Any]] = []
    for index, record in enumerate(batch.records):
        item: dict[int | str, Any] = {}
        if index == 0:
            item[BASE_TIME] = base_time
            item[BOOT_ID] = batch.boot_id
            item[SEQUENCE] = batch.seq
        item[NAME] = record.name
        offset = record.time - base_time
        if offset:
            item[TIME] = offset
        if record.unit:
            item[UNIT] = record.unit
        if record.value is not None:
            item[VALUE] = record.value
        elif record.string_value is not None:
            item[STRING_VALUE] = record.string_value
        elif record.bool_value is not None:
            item[BOOL_VALUE] = record.bool_value
        pack.append(item)
    return pack


def from_pack(pack: object) -> TelemetryBatch:
    """Validate a decoded SenML pack (integer labels) into a batch."""
    if not isinstance(pack, list) or not pack:
        raise ProtocolError("a telemetry batch is a non-empty SenML array")
    if len(pack) > _MAX_RECORDS:
        raise ProtocolError(f"a telemetry batch holds at most {_MAX_RECORDS} records")
    first = pack[0]
    if not isinstance(first, dict):
        raise ProtocolError("SenML records must be maps")
    boot_id = first.get(BOOT_ID)
    seq = first.get(SEQUENCE)
    base_time = _number(first.get(BASE_TIME, 0), "bt")
    if not is_valid_boot_id(boot_id):
        raise ProtocolError("the first record needs a boot id (bid) of 8-32 lowercase hex")
    if type(seq) is not int or not 0 <= seq <= _MAX_SEQUENCE:
        raise ProtocolError("the first record needs a non-negative integer seq")
    records = tuple(_record(item, base_time) for item in pack)
    return TelemetryBatch(boot_id=str(boot_id), seq=seq, records=records)


def _record(item: object, base_time: float) -> Record:
    if not isinstance(item, dict):
        raise ProtocolError("SenML records must be maps")
    name = item.get(NAME)
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ProtocolError(f"invalid SenML record name {name!r}")
    unit = item.get(UNIT)
    if unit is not None and not isinstance(unit, str):
        raise ProtocolError("SenML unit must be text")
    time = base_time + _number(item.get(TIME, 0), "t")
    value = item.get(VALUE)
    string_value = item.get(STRING_VALUE)
    bool_value = item.get(BOOL_VALUE)
    present = (value is not None) + (string_value is not None) + (bool_value is not None)
    if present != 1:
        raise ProtocolError(f"record {name!r} needs exactly one of v, vs, vb")
    if value is not None:
        value = _number(value, "v")
    if string_value is not None and not isinstance(string_value, str):
        raise ProtocolError("vs must be text")
    if bool_value is not None and not isinstance(bool_value, bool):
        raise ProtocolError("vb must be a boolean")
    return Record(
        name=name,
        time=time,
        value=value,
        string_value=string_value,
        bool_value=bool_value,
        unit=unit,
    )


def _number(raw: object, label: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ProtocolError(f"SenML {label} must be a number")
    number = float(raw) if isinstance(raw, int) and abs(raw) < 2**63 else raw
    if not isinstance(number, float) or not math.isfinite(number):
        raise ProtocolError(f"SenML {label} must be a finite number")
    return number


def _json_array(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError("a telemetry batch is a non-empty SenML array")
    return value
