"""Filter chains as tables: (ts, value) in -> (ts, value) reported, plus counts."""

from __future__ import annotations

import math

import pytest

from edge.accounting import Counts
from edge.config import FilterSpec
from edge.filters import FILTERS, ChannelPolicy, build_chain
from edge.model import Reading

Series = list[tuple[float, object]]


def run_chain(specs: list[FilterSpec], inputs: Series) -> tuple[Series, Counts]:
    counts = Counts()
    chain = build_chain(specs, counts=counts)
    out: Series = []
    for ts, value in inputs:
        reading = Reading(device="env", channel="x", value=value, ts=ts)  # type: ignore[arg-type]
        passed = chain.feed(reading)
        if passed is not None:
            out.append((passed.ts, passed.value))
    return out, counts


CASES = {
    "deadband absolute": (
        [FilterSpec(deadband=2)],
        [(0, 10), (1, 11), (2, 12), (3, 13.9), (4, 14), (5, 9), (6, 11)],
        [(0, 10), (2, 12), (4, 14), (5, 9), (6, 11)],
    ),
    "deadband zero passes repeats": (
        [FilterSpec(deadband=0)],
        [(0, 1), (1, 1)],
        [(0, 1), (1, 1)],
    ),
    "percent deadband around zero": (
        [FilterSpec(deadband_percent=10)],
        [(0, 0), (1, 0), (2, 0.001), (3, 0.001), (4, 100), (5, 105), (6, 111), (7, -5)],
        [(0, 0), (2, 0.001), (4, 100), (6, 111), (7, -5)],
    ),
    "percent deadband negative reference": (
        [FilterSpec(deadband_percent=50)],
        [(0, -10), (1, -14), (2, -15), (3, -7)],
        [(0, -10), (2, -15), (3, -7)],
    ),
    "on_change numbers": (
        [FilterSpec(on_change=True)],
        [(0, 1), (1, 1), (2, 2), (3, 2), (4, 1)],
        [(0, 1), (2, 2), (4, 1)],
    ),
    "on_change strings and bools": (
        [FilterSpec(on_change=True)],
        [(0, "ok"), (1, "ok"), (2, "fault"), (3, True), (4, True), (5, 1)],
        [(0, "ok"), (2, "fault"), (3, True), (5, 1)],
    ),
    "deadband OR heartbeat": (
        [FilterSpec(deadband=2), FilterSpec(heartbeat=300)],
        [
            *[(0, 10), (100, 10.5), (299, 11), (300, 11.2)],
            *[(400, 11.3), (450, 13.3), (749, 13.3), (750, 13.3)],
        ],
        [(0, 10), (300, 11.2), (450, 13.3), (750, 13.3)],
    ),
    "heartbeat first in the list is the same": (
        [FilterSpec(heartbeat=300), FilterSpec(deadband=2)],
        [(0, 10), (100, 10.5), (300, 11.2), (400, 11.3)],
        [(0, 10), (300, 11.2)],
    ),
    "on_change OR heartbeat": (
        [FilterSpec(on_change=True), FilterSpec(heartbeat=60)],
        [(0, 1), (30, 1), (60, 1), (61, 1), (120, 1), (121, 2)],
        [(0, 1), (60, 1), (120, 1), (121, 2)],
    ),
    "non-numeric passes numeric filters": (
        [FilterSpec(deadband=5), FilterSpec(deadband_percent=50)],
        [(0, 10), (1, "fault"), (2, True), (3, 11), (4, False)],
        [(0, 10), (1, "fault"), (2, True), (4, False)],
    ),
    "window mean emits on the next window": (
        [FilterSpec(window=60)],
        [(0, 1), (10, 2), (59, 3), (60, 10), (70, 20), (200, 0)],
        [(60, 2.0), (120, 15.0)],
    ),
    "window is aligned to its width": (
        [FilterSpec(window=60, aggregate="max")],
        [(30, 1), (59, 5), (61, 2), (119.5, 7), (120, 0)],
        [(60, 5), (120, 7)],
    ),
    "window min": (
        [FilterSpec(window=10, aggregate="min")],
        [(0, 4), (5, -2), (9, 3), (10, 8), (25, 1)],
        [(10, -2), (20, 8)],
    ),
    "window lets bool and str around it": (
        [FilterSpec(window=10)],
        [(0, 1), (1, True), (2, "x"), (3, 3), (11, 0)],
        [(1, True), (2, "x"), (10, 2.0)],
    ),
    "deadband after window filters the aggregates": (
        [FilterSpec(window=10), FilterSpec(deadband=1)],
        [(0, 5), (10, 5.5), (20, 7), (30, 0)],
        [(10, 5.0), (30, 7.0)],
    ),
}


@pytest.mark.parametrize(("specs", "inputs", "expected"), CASES.values(), ids=CASES.keys())
def test_filter_table(specs: list[FilterSpec], inputs: Series, expected: Series) -> None:
    out, counts = run_chain(specs, inputs)
    assert out == expected
    # Every input is reported, suppressed or absorbed; every aggregate is reported or suppressed.
    assert counts.read == 0
    assert len(inputs) - counts.filtered + counts.aggregated_out == len(out)


def test_window_counts_absorbed_and_aggregated() -> None:
    out, counts = run_chain([FilterSpec(window=60)], [(0, 1), (10, 2), (60, 3)])
    assert out == [(60, 1.5)]
    assert (counts.filtered, counts.aggregated_out) == (3, 1)


def test_window_expires_without_new_readings() -> None:
    counts = Counts()
    chain = build_chain([FilterSpec(window=60), FilterSpec(deadband=100)], counts=counts)
    assert chain.feed(Reading(device="env", channel="x", value=4.0, ts=10.0, unit="V")) is None
    assert chain.expire(59.9) == []
    (aggregate,) = chain.expire(60.0)
    assert aggregate == Reading(device="env", channel="x", value=4.0, ts=60.0, unit="V")
    assert chain.expire(1_000.0) == []
    assert (counts.filtered, counts.aggregated_out) == (1, 1)


def test_nan_is_never_suppressed() -> None:
    out, _ = run_chain([FilterSpec(deadband=1)], [(0, 1.0), (1, math.nan), (2, math.nan)])
    assert len(out) == 3


def test_registry_is_an_explicit_table() -> None:
    assert sorted(FILTERS) == ["deadband", "deadband_percent", "on_change", "window"]


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([FilterSpec(heartbeat=5), FilterSpec(heartbeat=10)], "at most one heartbeat"),
        ([FilterSpec(heartbeat=0)], "positive"),
        ([FilterSpec(on_change=False)], "on_change: false"),
        ([FilterSpec(window=0)], "positive duration"),
    ],
)
def test_invalid_chains_are_refused(specs: list[FilterSpec], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChannelPolicy(filters=tuple(specs))


def test_policy_range_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="low <= high"):
        ChannelPolicy(range=(10.0, 0.0))
