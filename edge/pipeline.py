"""The edge data path between the bus schedulers and the buffer.

    submit(readings) -> range check (out_of_range) -> filters (filtered, aggregated_out)
                     -> batcher -> one encoded TelemetryBatch -> Buffer.append()

`submit` is synchronous and never blocks (schedulers call it on the loop); `run()` is the
flush loop that closes batches after `batch_interval` and closes expired windows. Every
count moves to the buffer together with the batch it describes (see edge/accounting.py).

Numeric readings that are NaN or infinite are dropped as out_of_range on every channel:
the fleet's decoder refuses them, and one would make its whole batch undeliverable.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from edge.accounting import AccountingSnapshot, Counts
from edge.batcher import BatchEncoder
from edge.buffer.types import BufferedBatch
from edge.config import AgentConfig
from edge.filters import ChannelKey, ChannelPolicy, FilterChain, build_chain, policies_from_config
from edge.model import Reading
from protocol.encoding import Encoding

log = logging.getLogger(__name__)

_INF = math.inf


class BatchSink(Protocol):
    """Where closed batches go: the buffer."""

    def append(self, batch: BufferedBatch | None, counts: Counts) -> None:
        """Queue a batch (or counts alone) for the next commit."""

    def accounting(self) -> AccountingSnapshot:
        """Committed plus queued counts."""
        ...


@dataclass(slots=True)
class _Channel:
    low: float
    high: float
    chain: FilterChain | None


class Pipeline:
    """Range check, filters and batching for every reading of the agent."""

    def __init__(
        self,
        *,
        sink: BatchSink,
        boot_id: str,
        policies: Mapping[ChannelKey, ChannelPolicy] | None = None,
        batch_max_readings: int = 500,
        batch_interval: float = 1.0,
        encoding: Encoding = "cbor",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if batch_max_readings < 1:
            raise ValueError("batch_max_readings must be at least 1")
        if batch_interval <= 0:
            raise ValueError("batch_interval must be positive")
        self._sink = sink
        self._encoder = BatchEncoder(boot_id=boot_id, encoding=encoding)
        self._max = batch_max_readings
        self._interval = batch_interval
        self._clock = clock
        self._counts = Counts()
        self._channels: dict[ChannelKey, _Channel] = {}
        for key, policy in (policies or {}).items():
            low, high = policy.range if policy.range is not None else (-_INF, _INF)
            chain = build_chain(policy.filters, counts=self._counts) if policy.filters else None
            self._channels[key] = _Channel(low=low, high=high, chain=chain)
        self._windowed = [
            channel.chain
            for channel in self._channels.values()
            if channel.chain is not None and channel.chain.has_window
        ]
        self._open: list[Reading] = []
        self._opened_at = 0.0
        self._seq = 0

    @classmethod
    def from_config(
        cls,
        config: AgentConfig,
        *,
        sink: BatchSink,
        boot_id: str,
        policies: Mapping[ChannelKey, ChannelPolicy] | None = None,
    ) -> Pipeline:
        """The pipeline the agent config describes.

        Pass `policies` with the drivers' defaults merged in (edge.devices.channel_policies);
        without them only the config's channel overrides apply.
        """
        return cls(
            sink=sink,
            boot_id=boot_id,
            policies=policies_from_config(config.buses) if policies is None else policies,
            batch_max_readings=config.uplink.batch_max_readings,
            batch_interval=float(config.uplink.batch_interval),
            encoding=config.uplink.encoding,
        )

    @property
    def boot_id(self) -> str:
        """The boot id every batch of this pipeline carries."""
        return self._encoder.boot_id

    @property
    def next_seq(self) -> int:
        """The sequence number the next batch will get (0 for the first batch of a boot)."""
        return self._seq

    def submit(self, readings: Iterable[Reading]) -> None:
        """Check, filter and batch readings; closes a batch as soon as it is full."""
        counts = self._counts
        channels = self._channels
        limit = self._max
        for reading in readings:
            counts.read += 1
            value = reading.value
            channel = channels.get((reading.device, reading.channel)) if channels else None
            if channel is None:
                if type(value) is float and not -_INF < value < _INF:
                    counts.out_of_range += 1
                    continue
            else:
                if (type(value) is float or type(value) is int) and not (
                    channel.low <= value <= channel.high and -_INF < value < _INF
                ):
                    counts.out_of_range += 1
                    continue
                if channel.chain is not None:
                    passed = channel.chain.feed(reading)
                    if passed is None:
                        continue
                    reading = passed
            batch = self._open
            if not batch:
                self._opened_at = self._clock()
            batch.append(reading)
            if len(batch) >= limit:
                self._close(self._clock())

    def tick(self, now: float | None = None) -> None:
        """Close expired windows and a batch older than batch_interval; persist lone counts."""
        now = self._clock() if now is None else now
        for chain in self._windowed:
            for aggregate in chain.expire(now):
                self._add(aggregate, now)
        opened = self._opened_at
        # A clock stepped backwards (NTP at boot) must not hold a batch open.
        if self._open and (now >= opened + self._interval or now < opened):
            self._close(now)
        elif not self._open and not self._counts.is_zero():
            # Everything since the last batch was filtered: those counts still go to disk.
            self._sink.append(None, self._counts.take())

    def flush(self, now: float | None = None) -> None:
        """Close the open batch now (shutdown, tests), handing it and its counts to the buffer."""
        now = self._clock() if now is None else now
        if self._open:
            self._close(now)
        elif not self._counts.is_zero():
            self._sink.append(None, self._counts.take())

    async def run(self) -> None:
        """The flush loop; run it as a named task. On cancel it hands over the open batch."""
        try:
            while True:
                await asyncio.sleep(self._wait_time())
                self.tick()
        finally:
            try:
                self.flush()
            except RuntimeError:
                log.exception("pipeline: the buffer closed before the pipeline; batch lost")

    def accounting(self) -> AccountingSnapshot:
        """Every counter now, including readings still in the open batch (as pending)."""
        base = self._sink.accounting()
        counts = Counts.of({name: getattr(base, name) for name, _ in self._counts.items()})
        counts.add(self._counts)
        return AccountingSnapshot.of(
            counts, buffered=base.buffered, pending=base.pending + len(self._open)
        )

    def _wait_time(self) -> float:
        if not self._open:
            return self._interval
        due = self._opened_at + self._interval - self._clock()
        return min(max(due, 0.0), self._interval)

    def _add(self, reading: Reading, now: float) -> None:
        if not self._open:
            self._opened_at = now
        self._open.append(reading)
        if len(self._open) >= self._max:
            self._close(now)

    def _close(self, now: float) -> None:
        readings, self._open = self._open, []
        batch, rejected = self._encoder.encode(readings, seq=self._seq, created=now)
        if rejected:
            self._counts.out_of_range += rejected
        if batch is not None:
            self._seq += 1
        self._sink.append(batch, self._counts.take())
