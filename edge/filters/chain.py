"""A channel's filter chain: gates and windows in config order, plus an optional heartbeat.

The heartbeat is a property of the whole chain, wherever it sits in the list: when a gate
suppresses a reading but the chain has reported nothing for `heartbeat` seconds, the
reading is reported anyway. So `[{deadband: 2}, {heartbeat: 5m}]` means "report when the
value moved >= 2 OR 5 minutes passed". It never overrides a window (a window already
reports once per window). Windows only absorb numbers; bool and str readings go around them.

Counting: a suppressed or absorbed reading adds 1 to `filtered`; an aggregate a window
emits adds 1 to `aggregated_out` and continues down the chain like any reading.
"""

from __future__ import annotations

import math

from edge.accounting import Counts
from edge.filters.base import Aggregator, Gate, is_number
from edge.model import Reading

Step = tuple[Gate, None] | tuple[None, Aggregator]


class FilterChain:
    """The stateful filters of one (device, channel)."""

    __slots__ = ("_counts", "_heartbeat", "_last_out", "_steps", "has_window")

    def __init__(
        self, *, steps: tuple[Gate | Aggregator, ...], heartbeat: float | None, counts: Counts
    ) -> None:
        # Pairs instead of isinstance checks keep the per-reading path cheap.
        self._steps: tuple[Step, ...] = tuple(
            (step, None) if isinstance(step, Gate) else (None, step) for step in steps
        )
        self._heartbeat = heartbeat
        self._counts = counts
        self._last_out = -math.inf
        self.has_window = any(window is not None for _, window in self._steps)

    def feed(self, reading: Reading) -> Reading | None:
        """Run one reading through the chain; returns what to report, or None."""
        return self._run(reading, self._steps)

    def expire(self, now: float) -> list[Reading]:
        """Close windows whose end has passed and run their aggregates down the chain."""
        out: list[Reading] = []
        for index, (_, window) in enumerate(self._steps):
            if window is None:
                continue
            aggregate = window.expire(now)
            if aggregate is None:
                continue
            self._counts.aggregated_out += 1
            reported = self._run(aggregate, self._steps[index + 1 :])
            if reported is not None:
                out.append(reported)
        return out

    def _run(self, reading: Reading, steps: tuple[Step, ...]) -> Reading | None:
        counts = self._counts
        for gate, window in steps:
            if gate is not None:
                if not gate.accept(reading):
                    heartbeat = self._heartbeat
                    if heartbeat is None or reading.ts - self._last_out < heartbeat:
                        counts.filtered += 1
                        return None
                    gate.force(reading)
            elif window is not None and is_number(reading.value):
                counts.filtered += 1
                aggregate = window.feed(reading)
                if aggregate is None:
                    return None
                counts.aggregated_out += 1
                reading = aggregate
        self._last_out = reading.ts
        return reading
