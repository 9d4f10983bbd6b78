"""Value scripts that animate a simulated channel, and the faults a device can show."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from drivers.sdk.datatypes import DataType
from drivers.sdk.driver import Channel
from drivers.sdk.errors import DriverError
from drivers.sdk.manifest import SimSpec


class ValueScript(Protocol):
    """Engineering value of a channel at t seconds after the simulator started."""

    def value(self, t: float) -> float | str:
        """The value at time t."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class Text:
    """A fixed text (firmware version, serial number)."""

    text: str

    def value(self, t: float) -> str:
        """The text."""
        return self.text


@dataclass(frozen=True, kw_only=True, slots=True)
class Steady:
    """Always the same value."""

    level: float

    def value(self, t: float) -> float:
        """The constant level."""
        return self.level


@dataclass(frozen=True, kw_only=True, slots=True)
class Ramp:
    """Climbs (or falls) linearly, wrapping to low when it passes high, like a counter."""

    start: float
    rate: float
    low: float | None = None
    high: float | None = None

    def value(self, t: float) -> float:
        """start + rate * t, wrapped into [low, high) when both are set."""
        v = self.start + self.rate * t
        if self.low is not None and self.high is not None and self.high > self.low:
            v = self.low + (v - self.low) % (self.high - self.low)
        return v


@dataclass(kw_only=True, slots=True)
class Noise:
    """Random wander around a centre, clamped into [low, high]."""

    centre: float
    amplitude: float
    low: float | None = None
    high: float | None = None
    rng: random.Random

    def value(self, t: float) -> float:
        """A new random value; t is ignored on purpose (noise has no memory)."""
        v = self.centre + self.rng.uniform(-self.amplitude, self.amplitude)
        if self.low is not None:
            v = max(v, self.low)
        if self.high is not None:
            v = min(v, self.high)
        return v


def script_for(channel: Channel, *, rng: random.Random) -> ValueScript:
    """The channel's script from its manifest, or a steady mid-range value when it has none."""
    spec = channel.sim
    if spec is not None and spec.text is not None:
        return Text(text=spec.text)
    if spec is None:
        if channel.data_type is DataType.STRING:
            return Text(text="")
        low, high = channel.range or (0.0, 0.0)
        return Steady(level=(low + high) / 2)
    return _from_spec(spec, rng=rng)


def _from_spec(spec: SimSpec, *, rng: random.Random) -> ValueScript:
    if spec.script == "steady":
        return Steady(level=spec.value)
    if spec.script == "ramp":
        return Ramp(start=spec.value, rate=spec.rate, low=spec.low, high=spec.high)
    return Noise(centre=spec.value, amplitude=spec.amplitude, low=spec.low, high=spec.high, rng=rng)


@dataclass(frozen=True, slots=True)
class Stuck:
    """Values freeze where they are (a hung sensor that still answers)."""


@dataclass(frozen=True, slots=True)
class Silent:
    """The device never answers (unplugged, wrong unit id, broken wire)."""


@dataclass(frozen=True, slots=True)
class RaisesException:
    """Every read is answered with a Modbus exception code."""

    code: int = 4


Fault = Stuck | Silent | RaisesException


def parse_fault(text: str) -> Fault:
    """Parse "stuck", "silent", "exception" or "exception=N" (N a Modbus exception code)."""
    name, _, arg = text.partition("=")
    if name == "stuck" and not arg:
        return Stuck()
    if name == "silent" and not arg:
        return Silent()
    if name == "exception":
        try:
            code = int(arg) if arg else 4
        except ValueError:
            code = -1
        if 1 <= code <= 11:
            return RaisesException(code)
    raise DriverError(f"unknown fault {text!r}; use stuck, silent, exception or exception=N")
