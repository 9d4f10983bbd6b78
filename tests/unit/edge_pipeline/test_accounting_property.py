"""Property: whatever readings arrive and whatever the fleet acks, every reading is accounted for.

Runs the real pipeline into the real SQLite buffer (small, so the byte bound drops data),
checks `read - out_of_range - filtered + aggregated_out == dropped + delivered + buffered +
pending` after every step, and again after closing and reopening the database.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.buffer import Buffer
from edge.config import FilterSpec
from edge.filters import ChannelPolicy
from edge.model import Reading
from edge.pipeline import Pipeline

CHANNELS = ("pm2_5", "temp", "state", "raw")
POLICIES = {
    ("env", "pm2_5"): ChannelPolicy(
        range=(0, 1000), filters=(FilterSpec(deadband=5), FilterSpec(heartbeat=60))
    ),
    ("env", "temp"): ChannelPolicy(range=(-40, 85), filters=(FilterSpec(window=30),)),
    ("env", "state"): ChannelPolicy(filters=(FilterSpec(on_change=True),)),
}

values = st.one_of(
    st.floats(min_value=-100, max_value=1100),
    st.just(math.nan),
    st.integers(min_value=-5, max_value=5),
    st.booleans(),
    st.sampled_from(["ok", "fault"]),
    st.integers(min_value=500, max_value=4000).map(lambda n: "x" * n),  # fills the buffer
)
readings = st.lists(st.tuples(st.sampled_from(CHANNELS), values), max_size=40)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), readings),
        st.tuples(st.just("burst"), st.integers(min_value=1, max_value=20)),
        st.tuples(st.just("tick"), st.floats(min_value=0, max_value=90)),
        st.tuples(st.just("take"), st.integers(min_value=1, max_value=8)),
        st.tuples(st.just("ack"), st.integers(0, 40), st.integers(0, 8)),
        st.tuples(st.just("requeue")),
        st.tuples(st.just("flush")),
        st.tuples(st.just("reopen")),
    ),
    max_size=40,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def scenario(path: str, steps: list[tuple[Any, ...]]) -> None:
    clock = Clock()
    boots = iter(f"{n:016x}" for n in range(1, 100))

    def start() -> tuple[Buffer, Pipeline]:
        buffer = Buffer(path=path, max_bytes=64 * 1024, commit_interval=0.001, synchronous="normal")
        pipeline = Pipeline(
            sink=buffer, boot_id=next(boots), policies=POLICIES, batch_max_readings=7, clock=clock
        )
        return buffer, pipeline

    buffer, pipeline = start()
    await buffer.open()
    for step in steps:
        kind = step[0]
        if kind == "submit":
            batch = []
            for channel, value in step[1]:
                clock.now += 0.5
                batch.append(Reading(device="env", channel=channel, value=value, ts=clock.now))
            pipeline.submit(batch)
        elif kind == "burst":  # ~10 KiB readings: a few bursts overflow the 64 KiB bound
            clock.now += 0.5
            pipeline.submit(
                Reading(device="env", channel="raw", value="y" * 10_000, ts=clock.now)
                for _ in range(step[1])
            )
        elif kind == "tick":
            clock.now += step[1]
            pipeline.tick()
        elif kind == "take":
            await buffer.take_unsent(step[1])
        elif kind == "ack":
            first = step[1]
            await buffer.acknowledge(pipeline.boot_id, [(first, first + step[2])])
        elif kind == "requeue":
            await buffer.requeue_inflight()
        elif kind == "flush":
            pipeline.flush()
            await buffer.flush()
        else:
            pipeline.flush()
            before = pipeline.accounting()
            await buffer.close()
            buffer, pipeline = start()
            await buffer.open()
            after = pipeline.accounting()
            assert after.is_balanced(), after
            assert (after.read, after.delivered) == (before.read, before.delivered)
        snapshot = pipeline.accounting()
        assert snapshot.is_balanced(), (step, snapshot)
    pipeline.flush()
    await buffer.close()
    reopened = Buffer(path=path, max_bytes=64 * 1024)
    await reopened.open()
    final = reopened.accounting()
    await reopened.close()
    assert final.is_balanced(), final
    assert final.pending == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=ops)
def test_every_reading_is_accounted_for(steps: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(scenario(str(Path(folder) / "buffer.db"), steps))
