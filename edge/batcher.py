"""Turn a closed batch of readings into one encoded SenML TelemetryBatch, exactly once.

Record names are `{device}/{channel}`; numbers become `v`, bools `vb`, strings `vs`.
A reading the fleet could not decode (a name outside SenML's character set, a non-finite
number) is rejected here rather than poisoning its whole batch at the fleet forever.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence

from edge.buffer.types import BufferedBatch
from edge.model import Reading
from protocol.encoding import Encoding, check_encoding
from protocol.ids import is_valid_boot_id
from protocol.senml import Record, TelemetryBatch, encode_batch

log = logging.getLogger(__name__)

# Mirrors protocol.senml's decoder, which the fleet runs on every batch.
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:./_-]{0,127}")


def record_of(reading: Reading, name: str) -> Record:
    """The SenML record for one reading (bool and str values keep their own labels)."""
    value = reading.value
    unit = reading.unit or None
    if type(value) is bool:
        return Record(name=name, time=reading.ts, bool_value=value, unit=unit)
    if type(value) is str:
        return Record(name=name, time=reading.ts, string_value=value, unit=unit)
    return Record(name=name, time=reading.ts, value=float(value), unit=unit)


class BatchEncoder:
    """Encodes the batches of one boot id; caches record names per channel."""

    def __init__(self, *, boot_id: str, encoding: Encoding) -> None:
        if not is_valid_boot_id(boot_id):
            raise ValueError(f"invalid boot id {boot_id!r}: expected 8-32 lowercase hex")
        self.boot_id = boot_id
        self.encoding = check_encoding(encoding)
        self._names: dict[tuple[str, str], str | None] = {}

    def encode(
        self, readings: Sequence[Reading], *, seq: int, created: float
    ) -> tuple[BufferedBatch | None, int]:
        """(the encoded batch or None when nothing was encodable, readings rejected)."""
        records: list[Record] = []
        names = self._names
        for reading in readings:
            key = (reading.device, reading.channel)
            name = names.get(key, "")
            if name == "":
                name = names[key] = self._name_for(key)
            if name is None or not _encodable(reading.value):
                continue
            records.append(record_of(reading, name))
        rejected = len(readings) - len(records)
        if not records:
            return None, rejected
        payload = encode_batch(
            TelemetryBatch(boot_id=self.boot_id, seq=seq, records=tuple(records)), self.encoding
        )
        batch = BufferedBatch(
            boot_id=self.boot_id,
            seq=seq,
            created=created,
            n_readings=len(records),
            payload=payload,
        )
        return batch, rejected

    @staticmethod
    def _name_for(key: tuple[str, str]) -> str | None:
        name = f"{key[0]}/{key[1]}"
        if _NAME_RE.fullmatch(name):
            return name
        log.error("pipeline: channel name %r cannot go into SenML; its readings are dropped", name)
        return None


def _encodable(value: object) -> bool:
    # The range check already dropped non-finite floats; this guards readings it never saw.
    return not isinstance(value, float) or math.isfinite(value)
