"""Turn a closed batch of readings into one encoded SenML TelemetryBatch, exactly once.

Record names are `{device}/{channel}`; numbers become `v`, bools `vb`, strings `vs`.
A reading the fleet could not decode (a name outside SenML's character set, a non-finite
number) is rejected here rather than poisoning its whole batch at the fleet forever.

SenML-CBOR (the default) is written by protocol.core.senml_pack, the pure-Python encoder the
MicroPython agent uses: the same bytes as protocol.senml.encode_batch (a property test holds
the two together), without Record structs or an intermediate pack, and without importing
cbor2 (about 1 MiB of the agent's resident memory). MessagePack and JSON go through
protocol.senml.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence

from edge.buffer.types import BufferedBatch
from edge.model import Reading
from protocol.core import senml_pack
from protocol.encoding import Encoding, check_encoding
from protocol.ids import is_valid_boot_id
from protocol.senml import Record, TelemetryBatch, encode_batch

log = logging.getLogger(__name__)

# Mirrors protocol.senml's decoder, which the fleet runs on every batch.
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:./_-]{0,127}")


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
        records: list[tuple[str, float, float | bool | str, str]] = []
        names = self._names
        for reading in readings:
            key = (reading.device, reading.channel)
            name = names.get(key, "")
            if name == "":
                name = names[key] = self._name_for(key)
            value = reading.value
            if name is None or not _encodable(value):
                continue
            kind = type(value)
            if kind is not float and kind is not bool and kind is not str:
                value = float(value)  # ints too: SenML's v is a float
            records.append((name, reading.ts, value, reading.unit))
        rejected = len(readings) - len(records)
        if not records:
            return None, rejected
        if self.encoding == "cbor":
            payload = senml_pack.encode_batch(self.boot_id, seq, records)
        else:
            payload = encode_batch(
                TelemetryBatch(
                    boot_id=self.boot_id,
                    seq=seq,
                    records=tuple(_record(*record) for record in records),
                ),
                self.encoding,
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


def _record(name: str, time: float, value: float | bool | str, unit: str) -> Record:
    """The protocol.senml Record of one accepted reading (MessagePack and JSON encodings)."""
    if isinstance(value, bool):
        return Record(name=name, time=time, bool_value=value, unit=unit or None)
    if isinstance(value, str):
        return Record(name=name, time=time, string_value=value, unit=unit or None)
    return Record(name=name, time=time, value=value, unit=unit or None)


def _encodable(value: object) -> bool:
    # The range check already dropped non-finite floats; this guards readings it never saw.
    return not isinstance(value, float) or math.isfinite(value)
