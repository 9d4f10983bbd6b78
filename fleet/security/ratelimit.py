"""A sliding-window rate limiter keyed by a string (enrollment: by claim-token hash).

In memory, per fleet process: N replicas allow N times the rate, which still stops a
runaway script or a token being hammered from one place.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most `attempts` calls of `hit(key)` per `window_s` seconds for each key."""

    MAX_KEYS = 10_000

    def __init__(
        self, *, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if attempts < 1 or window_s <= 0:
            raise ValueError("a rate limit needs attempts >= 1 and window_s > 0")
        self._attempts = attempts
        self._window_s = window_s
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float | None:
        """Count one attempt; None if allowed, else the seconds until the next is allowed."""
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.MAX_KEYS:
                self._prune(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self._window_s:
            hits.popleft()
        if len(hits) >= self._attempts:
            return max(0.0, hits[0] + self._window_s - now)
        hits.append(now)
        return None

    def _prune(self, now: float) -> None:
        """Forget idle keys, then the oldest ones: bounds memory when someone sprays keys."""
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self._window_s]:
            del self._hits[key]
        for key in list(self._hits)[: max(0, len(self._hits) - self.MAX_KEYS + 1)]:
            del self._hits[key]
