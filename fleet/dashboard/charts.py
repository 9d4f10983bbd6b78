"""Inline SVG line charts: no JavaScript chart library, nothing to download."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleet.domain.telemetry.schemas import Point

WIDTH, HEIGHT, PAD = 600, 120, 4
MAX_POINTS = 300


@dataclass(frozen=True)
class Chart:
    """One channel's 24 h chart: an SVG polyline and its value range."""

    channel: str
    unit: str
    points: str
    low: float
    high: float
    last: float
    count: int


def downsample(points: Sequence[Point], limit: int = MAX_POINTS) -> list[Point]:
    """At most `limit` points, evenly picked (the last one always kept)."""
    if len(points) <= limit:
        return list(points)
    step = len(points) / limit
    picked = [points[int(i * step)] for i in range(limit - 1)]
    return [*picked, points[-1]]


def chart(channel: str, points: Sequence[Point], *, since: float, until: float) -> Chart | None:
    """A chart of numeric points between `since` and `until`; None without numbers."""
    values = [p for p in points if p.value is not None]
    if not values:
        return None
    shown = downsample(values)
    low = min(p.value for p in shown if p.value is not None)
    high = max(p.value for p in shown if p.value is not None)
    span_v = (high - low) or 1.0
    span_t = (until - since) or 1.0
    coords = []
    for p in shown:
        assert p.value is not None
        x = PAD + (WIDTH - 2 * PAD) * (p.ts - since) / span_t
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * (p.value - low) / span_v
        coords.append(f"{x:.1f},{y:.1f}")
    last = values[-1].value
    assert last is not None
    return Chart(
        channel=channel,
        unit=values[-1].unit or "",
        points=" ".join(coords),
        low=low,
        high=high,
        last=last,
        count=len(values),
    )
