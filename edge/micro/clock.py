"""Millisecond clocks with MicroPython's names, also on CPython (tests, cross-checks)."""

import time

try:
    from time import sleep_ms, ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython

    def ticks_ms() -> int:
        """Monotonic milliseconds."""
        return int(time.monotonic() * 1000)

    def ticks_add(ticks: int, delta: int) -> int:
        """ticks + delta (no wrap-around on CPython)."""
        return ticks + delta

    def ticks_diff(end: int, start: int) -> int:
        """end - start in milliseconds."""
        return end - start

    def sleep_ms(ms: int) -> None:
        """Sleep for ms milliseconds."""
        time.sleep(ms / 1000)


# Ports whose epoch is 2000-01-01 report time.time() 30 years short of Unix time.
_EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0


def wall_ms() -> int:
    """Unix time in integer milliseconds (an int: float32 ports cannot hold it as a float)."""
    try:
        ns = time.time_ns()
    except AttributeError:
        return (int(time.time()) + _EPOCH_OFFSET_S) * 1000
    return ns // 1000000 + _EPOCH_OFFSET_S * 1000
