"""Jittered exponential backoff, shared by reconnect loops and retries."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from `initial` up to `cap`, with full jitter.

    Full jitter (a random delay in [initial, current]) spreads thousands of gateways that lost
    the same broker, so they do not all reconnect in the same second.
    """

    def __init__(self, *, initial: float = 1.0, cap: float = 60.0, factor: float = 2.0) -> None:
        if initial <= 0 or cap < initial or factor < 1:
            raise ValueError("backoff needs 0 < initial <= cap and factor >= 1")
        self._initial = initial
        self._cap = cap
        self._factor = factor
        self._current = initial

    def next_delay(self) -> float:
        """The next delay to wait; grows until reset."""
        delay = random.uniform(self._initial, self._current)
        self._current = min(self._cap, self._current * self._factor)
        return delay

    def reset(self) -> None:
        """Start again from the initial delay (after a success)."""
        self._current = self._initial
