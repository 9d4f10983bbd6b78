"""Deadband gates: report a numeric value only when it moved far enough.

Non-numeric readings (bool, str) pass unchanged and do not move the reference.
A NaN is never suppressed (every comparison with it is false), so it is always reported.
"""

from __future__ import annotations

from edge.config import FilterSpec
from edge.filters.base import Gate, is_number, required
from edge.model import Reading


class Deadband(Gate):
    """Suppress a value that moved less than `threshold` from the last reported value."""

    __slots__ = ("_last", "_threshold")

    def __init__(self, *, threshold: float) -> None:
        if threshold < 0:
            raise ValueError("a deadband cannot be negative")
        self._threshold = threshold
        self._last: float | None = None

    def accept(self, reading: Reading) -> bool:
        """Pass when |value - last| >= threshold, and always for the first value."""
        value = reading.value
        if is_number(value):
            last = self._last
            if last is not None and abs(value - last) < self._threshold:
                return False
            self._last = value
        return True

    def force(self, reading: Reading) -> None:
        """Take the heartbeat's reading as the new reference."""
        value = reading.value
        if is_number(value):
            self._last = value


class PercentDeadband(Gate):
    """Suppress a value that moved less than `percent` % of the last reported value.

    Around zero a percentage of the reference is zero, so any change away from 0 is
    reported; a repeated identical value is always suppressed (also when percent is 0).
    """

    __slots__ = ("_fraction", "_last")

    def __init__(self, *, percent: float) -> None:
        if percent < 0:
            raise ValueError("a deadband cannot be negative")
        self._fraction = percent / 100.0
        self._last: float | None = None

    def accept(self, reading: Reading) -> bool:
        """Pass when the value changed by at least percent of |last|."""
        value = reading.value
        if is_number(value):
            last = self._last
            if last is not None and (
                value == last or abs(value - last) < self._fraction * abs(last)
            ):
                return False
            self._last = value
        return True

    def force(self, reading: Reading) -> None:
        """Take the heartbeat's reading as the new reference."""
        value = reading.value
        if is_number(value):
            self._last = value


def absolute_from_spec(spec: FilterSpec) -> Deadband:
    """Registry factory for {deadband: x}."""
    return Deadband(threshold=required(spec.deadband, "deadband"))


def percent_from_spec(spec: FilterSpec) -> PercentDeadband:
    """Registry factory for {deadband_percent: x}."""
    return PercentDeadband(percent=required(spec.deadband_percent, "deadband_percent"))
