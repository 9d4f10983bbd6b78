"""Fixtures for the edge pipeline tests: reading factories and a sink that decodes batches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from edge.accounting import AccountingSnapshot, Counts
from edge.buffer.types import BufferedBatch
from edge.model import Reading
from protocol.senml import TelemetryBatch, decode_batch

MakeReading = Callable[..., Reading]
BOOT_ID = "0123456789abcdef"


class RecordingSink:
    """A BatchSink that keeps what the pipeline hands over: a buffer that never drops."""

    def __init__(self) -> None:
        self.appends: list[tuple[BufferedBatch | None, Counts]] = []
        self.counts = Counts()
        self.appended = asyncio.Event()

    def append(self, batch: BufferedBatch | None, counts: Counts) -> None:
        self.appends.append((batch, counts))
        self.counts.add(counts)
        self.appended.set()

    def accounting(self) -> AccountingSnapshot:
        buffered = sum(batch.n_readings for batch in self.batches())
        return AccountingSnapshot.of(self.counts, buffered=buffered, pending=0)

    def batches(self) -> list[BufferedBatch]:
        return [batch for batch, _ in self.appends if batch is not None]

    def decoded(self, encoding: str = "cbor") -> list[TelemetryBatch]:
        return [decode_batch(batch.payload, encoding) for batch in self.batches()]  # type: ignore[arg-type]

    def values(self) -> list[tuple[str, float, object]]:
        """(name, time, value) of every record delivered so far, in order."""
        out: list[tuple[str, float, object]] = []
        for batch in self.decoded():
            for record in batch.records:
                value: object = record.value
                if record.bool_value is not None:
                    value = record.bool_value
                elif record.string_value is not None:
                    value = record.string_value
                out.append((record.name, record.time, value))
        return out


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def make_reading() -> MakeReading:
    def make(
        value: float | bool | str,
        ts: float = 1_000.0,
        *,
        device: str = "env",
        channel: str = "pm2_5",
        unit: str = "",
    ) -> Reading:
        return Reading(device=device, channel=channel, value=value, ts=ts, unit=unit)

    return make
