"""Bridge counters (exposed on /healthz) and rate-limited logging of rejected messages."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger("fleet.bridge")


@dataclass
class BridgeCounters:
    """Monotonic counters since the bridge started; read by the health endpoint and tests."""

    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    messages: int = 0
    batches_new: int = 0
    batches_duplicate: int = 0
    points: int = 0
    states: int = 0
    healths: int = 0
    flushes: int = 0
    acks_sent: int = 0
    db_errors: int = 0
    lag_s: float = 0.0
    """Receipt to commit of the oldest message in the last committed group (bridge lag)."""
    rejected: Counter[str] = field(default_factory=Counter)
    """Garbage per reason: topic, content_type, telemetry, health, state."""


class RejectLog:
    """Log a rejected message at most once per reason per interval, with a suppressed count."""

    def __init__(self, interval_s: float = 10.0) -> None:
        self._interval_s = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def rejected(self, reason: str, topic: str, size: int, detail: str) -> None:
        """Record one rejected message; never logs its payload, which is untrusted."""
        now = time.monotonic()
        last = self._last.get(reason)
        if last is not None and now - last < self._interval_s:
            self._suppressed[reason] += 1
            return
        self._last[reason] = now
        suppressed = self._suppressed.pop(reason, 0)
        log.warning(
            "rejected %s message on %r (%d bytes): %s%s",
            reason,
            topic[:200],
            size,
            detail[:200],
            f" ({suppressed} more since last report)" if suppressed else "",
        )
