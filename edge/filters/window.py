"""Window aggregates: fold numeric readings into one mean, min or max per window.

Windows are aligned to multiples of their width in Unix time (a 5 min window runs
10:00-10:05), so aggregates of different channels and gateways line up. The aggregate is
stamped with the window's end. A reading older than the open window (a clock step back)
is folded into the open window rather than reopening a closed one.
"""

from __future__ import annotations

from typing import Literal

from edge.config import FilterSpec
from edge.filters.base import Aggregator, is_number, required
from edge.model import Reading

AggregateKind = Literal["mean", "min", "max"]


class Window(Aggregator):
    """One aggregate per aligned window of `width` seconds."""

    __slots__ = ("_count", "_end", "_kind", "_max", "_min", "_proto", "_sum", "_width")

    def __init__(self, *, width: float, kind: AggregateKind = "mean") -> None:
        if width <= 0:
            raise ValueError("a window needs a positive duration")
        self._width = width
        self._kind = kind
        self._count = 0
        self._end = 0.0
        self._sum = 0.0
        self._min = 0.0
        self._max = 0.0
        self._proto: Reading | None = None

    def feed(self, reading: Reading) -> Reading | None:
        """Absorb a numeric reading; emits the previous window when this one starts a new one."""
        value = reading.value
        if not is_number(value):
            raise TypeError("a window aggregates numbers only; the chain passes others around it")
        return self._absorb(reading, value)

    def _absorb(self, reading: Reading, value: float) -> Reading | None:
        ts = reading.ts
        out = self._close() if self._count and ts >= self._end else None
        if self._count:
            self._sum += value
            self._min = min(self._min, value)
            self._max = max(self._max, value)
        else:
            self._end = ts - ts % self._width + self._width
            self._sum = self._min = self._max = value
            self._proto = reading
        self._count += 1
        return out

    def expire(self, now: float) -> Reading | None:
        """Emit the open window once its end has passed, even when no new reading came."""
        if self._count and now >= self._end:
            return self._close()
        return None

    def _close(self) -> Reading:
        proto = self._proto
        assert proto is not None  # set whenever _count > 0
        if self._kind == "mean":
            value = self._sum / self._count
        elif self._kind == "min":
            value = self._min
        else:
            value = self._max
        self._count = 0
        self._proto = None
        return Reading(
            device=proto.device, channel=proto.channel, value=value, ts=self._end, unit=proto.unit
        )


def from_spec(spec: FilterSpec) -> Window:
    """Registry factory for {window: 5m, aggregate: mean|min|max}."""
    return Window(width=required(spec.window, "window"), kind=spec.aggregate or "mean")
