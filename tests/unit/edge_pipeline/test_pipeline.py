"""The pipeline: range check, policies, batch closing, sequence numbers, counts."""

from __future__ import annotations

import asyncio
import math

import pytest

from edge.config import FilterSpec
from edge.config_file import parse_config
from edge.filters import ChannelPolicy
from edge.pipeline import Pipeline
from tests.unit.edge_pipeline.conftest import BOOT_ID, MakeReading, RecordingSink


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_pipeline(
    sink: RecordingSink, clock: FakeClock | None = None, **kwargs: object
) -> Pipeline:
    return Pipeline(sink=sink, boot_id=BOOT_ID, clock=clock or FakeClock(), **kwargs)  # type: ignore[arg-type]


def test_out_of_range_is_dropped_and_counted(
    sink: RecordingSink, make_reading: MakeReading
) -> None:
    pipeline = make_pipeline(sink, policies={("env", "pm2_5"): ChannelPolicy(range=(0, 1000))})
    pipeline.submit([make_reading(v) for v in (-1, 0, 500, 1000, 1000.5, math.nan, "text", True)])
    pipeline.flush()
    assert [value for _, _, value in sink.values()] == [0, 500, 1000, "text", True]
    snapshot = pipeline.accounting()
    assert (snapshot.read, snapshot.out_of_range, snapshot.buffered) == (8, 3, 5)
    assert snapshot.is_balanced()


def test_non_finite_numbers_are_dropped_without_a_policy(
    sink: RecordingSink, make_reading: MakeReading
) -> None:
    pipeline = make_pipeline(sink)
    pipeline.submit([make_reading(v) for v in (math.inf, -math.inf, math.nan, 1.5, 2)])
    pipeline.flush()
    assert [value for _, _, value in sink.values()] == [1.5, 2.0]
    assert pipeline.accounting().out_of_range == 3


def test_channels_without_policy_pass_unfiltered(
    sink: RecordingSink, make_reading: MakeReading
) -> None:
    policies = {("env", "pm2_5"): ChannelPolicy(filters=(FilterSpec(on_change=True),))}
    pipeline = make_pipeline(sink, policies=policies)
    pipeline.submit([make_reading(1, channel="pm2_5") for _ in range(3)])
    pipeline.submit([make_reading(1, channel="pm10") for _ in range(3)])
    pipeline.flush()
    names = [name for name, _, _ in sink.values()]
    assert names == ["env/pm2_5", "env/pm10", "env/pm10", "env/pm10"]
    assert pipeline.accounting().filtered == 2


def test_batches_close_when_full_with_monotonic_seq(
    sink: RecordingSink, make_reading: MakeReading
) -> None:
    pipeline = make_pipeline(sink, batch_max_readings=4)
    pipeline.submit([make_reading(float(i), ts=1_000.0 + i) for i in range(10)])
    assert [len(batch.records) for batch in sink.decoded()] == [4, 4]
    pipeline.flush()
    decoded = sink.decoded()
    assert [(batch.boot_id, batch.seq) for batch in decoded] == [(BOOT_ID, s) for s in (0, 1, 2)]
    assert [record.value for batch in decoded for record in batch.records] == [
        float(i) for i in range(10)
    ]
    assert pipeline.next_seq == 3


def test_records_carry_units_and_value_kinds(
    sink: RecordingSink, make_reading: MakeReading
) -> None:
    pipeline = make_pipeline(sink)
    pipeline.submit(
        [
            make_reading(230.5, device="meter", channel="voltage", unit="V"),
            make_reading(True, device="lamp", channel="on"),
            make_reading("fault", device="lamp", channel="state"),
        ]
    )
    pipeline.flush()
    records = sink.decoded()[0].records
    assert [(r.name, r.unit) for r in records] == [
        ("meter/voltage", "V"),
        ("lamp/on", None),
        ("lamp/state", None),
    ]
    assert (records[0].value, records[1].bool_value, records[2].string_value) == (
        230.5,
        True,
        "fault",
    )


def test_batch_closes_after_the_interval(sink: RecordingSink, make_reading: MakeReading) -> None:
    clock = FakeClock(1_000.0)
    pipeline = make_pipeline(sink, clock, batch_interval=1.0)
    pipeline.submit([make_reading(1.0)])
    clock.now = 1_000.9
    pipeline.tick()
    assert sink.batches() == []
    assert pipeline.accounting().pending == 1
    clock.now = 1_001.0
    pipeline.tick()
    assert len(sink.batches()) == 1
    assert sink.batches()[0].created == 1_001.0
    assert pipeline.accounting().pending == 0


def test_clock_stepping_back_does_not_hold_a_batch(
    sink: RecordingSink, make_reading: MakeReading
) -> None:
    clock = FakeClock(2_000_000_000.0)
    pipeline = make_pipeline(sink, clock)
    pipeline.submit([make_reading(1.0)])
    clock.now = 1_000.0  # NTP corrected a wrong boot-time clock
    pipeline.tick()
    assert len(sink.batches()) == 1


def test_counts_of_filtered_readings_reach_the_sink_without_a_batch(
    sink: RecordingSink, make_reading: MakeReading
) -> None:
    policies = {("env", "pm2_5"): ChannelPolicy(filters=(FilterSpec(deadband=10),))}
    pipeline = make_pipeline(sink, policies=policies)
    pipeline.submit([make_reading(1.0)])
    pipeline.flush()
    pipeline.submit([make_reading(2.0), make_reading(3.0)])
    pipeline.tick()
    assert sink.appends[-1][0] is None
    assert (sink.counts.read, sink.counts.filtered) == (3, 2)
    assert pipeline.accounting().is_balanced()


def test_window_aggregates_flow_through_the_pipeline(
    sink: RecordingSink, make_reading: MakeReading
) -> None:
    clock = FakeClock(0.0)
    policies = {("env", "temp"): ChannelPolicy(range=(-40, 85), filters=(FilterSpec(window=60),))}
    pipeline = make_pipeline(sink, clock, policies=policies)
    pipeline.submit([make_reading(v, ts=t, channel="temp") for t, v in ((1, 20), (2, 22), (3, 99))])
    assert pipeline.accounting().is_balanced()
    clock.now = 60.0
    pipeline.tick()
    clock.now = 61.0
    pipeline.tick()
    assert sink.values() == [("env/temp", 60.0, 21.0)]
    snapshot = pipeline.accounting()
    assert (snapshot.out_of_range, snapshot.filtered, snapshot.aggregated_out) == (1, 2, 1)
    assert snapshot.is_balanced()


def test_unencodable_channel_names_are_dropped_and_counted(
    sink: RecordingSink, make_reading: MakeReading
) -> None:
    pipeline = make_pipeline(sink)
    pipeline.submit([make_reading(1.0, channel="bad name"), make_reading(2.0)])
    pipeline.flush()
    assert [name for name, _, _ in sink.values()] == ["env/pm2_5"]
    assert pipeline.accounting().out_of_range == 1
    assert pipeline.accounting().is_balanced()


def test_invalid_boot_id_is_refused(sink: RecordingSink) -> None:
    with pytest.raises(ValueError, match="boot id"):
        Pipeline(sink=sink, boot_id="not-hex")


CONFIG = """
device_id: pole-1
buses:
  - name: rs485-1
    modbus_rtu: {baud: 9600}
    devices:
      - name: env
        driver: rs485_env_station
        channels:
          pm2_5: {filters: [{deadband: 2}, {heartbeat: 5m}], range: [0, 1000]}
uplink: {batch_max_readings: 2, encoding: msgpack}
"""


def test_from_config_builds_policies(sink: RecordingSink, make_reading: MakeReading) -> None:
    pipeline = Pipeline.from_config(parse_config(CONFIG), sink=sink, boot_id=BOOT_ID)
    pipeline.submit([make_reading(v, ts=t) for t, v in ((0, 10), (1, 11), (2, 12), (3, 5000))])
    pipeline.submit([make_reading(12.5, ts=301), make_reading(12.6, ts=302)])
    pipeline.flush()
    records = [r for batch in sink.decoded("msgpack") for r in batch.records]
    assert [(r.time, r.value) for r in records] == [(0, 10), (2, 12), (302, 12.6)]
    assert [batch.n_readings for batch in sink.batches()] == [2, 1]


async def test_run_flushes_on_interval_and_on_cancel(
    sink: RecordingSink, make_reading: MakeReading
) -> None:
    pipeline = Pipeline(sink=sink, boot_id=BOOT_ID, batch_interval=0.05)
    task = asyncio.create_task(pipeline.run(), name="pipeline-flush")
    pipeline.submit([make_reading(1.0)])
    await asyncio.wait_for(sink.appended.wait(), timeout=10)
    assert len(sink.batches()) == 1
    pipeline.submit([make_reading(2.0)])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [value for _, _, value in sink.values()] == [1.0, 2.0]
