"""MicroPython's tick functions for CPython, where the tests also run the micro agent."""

import time


def ticks_ms() -> int:
    """Monotonic milliseconds."""
    return int(getattr(time, "monotonic", time.time)() * 1000)  # not in MicroPython stubs


def ticks_add(ticks: int, delta: int) -> int:
    """ticks + delta (no wrap-around on CPython)."""
    return ticks + delta


def ticks_diff(end: int, start: int) -> int:
    """end - start in milliseconds."""
    return end - start


def sleep_ms(ms: int) -> None:
    """Sleep for ms milliseconds."""
    time.sleep(ms / 1000)
