"""Millisecond clocks with MicroPython's names, also on CPython (tests, cross-checks)."""

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_source: "Any" = time
if not hasattr(time, "ticks_ms"):  # CPython runs this module in the tests
    from edge.micro import cpython_clock

    _source = cpython_clock

# Ports whose epoch is 2000-01-01 report time.time() 30 years short of Unix time.
_EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0


def ticks_ms() -> int:
    """Monotonic milliseconds (they wrap around on MicroPython: compare with ticks_diff)."""
    return int(_source.ticks_ms())


def ticks_add(ticks: int, delta: int) -> int:
    """ticks + delta, wrapping as ticks_ms does."""
    return int(_source.ticks_add(ticks, delta))


def ticks_diff(end: int, start: int) -> int:
    """end - start in milliseconds, across a wrap-around."""
    return int(_source.ticks_diff(end, start))


def sleep_ms(ms: int) -> None:
    """Sleep for ms milliseconds."""
    _source.sleep_ms(ms)


def wall_ms() -> int:
    """Unix time in integer milliseconds (an int: float32 ports cannot hold it as a float)."""
    try:
        ns = int(time.time_ns())
    except AttributeError:
        return (int(time.time()) + _EPOCH_OFFSET_S) * 1000
    return ns // 1000000 + _EPOCH_OFFSET_S * 1000
