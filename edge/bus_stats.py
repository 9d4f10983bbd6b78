"""Live health of a bus and its devices: what the heartbeat and `agent status` report."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.model import Reading


@dataclass(kw_only=True)
class DeviceHealth:
    """Live health of one device; readings stay here (stale) when the device goes quiet."""

    name: str
    unit: int
    poll: float
    online: bool = True
    consecutive_failures: int = 0
    last_error: str | None = None
    last_reading_ts: float | None = None
    polls_ok: int = 0
    polls_failed: int = 0
    timeouts: int = 0
    exceptions: int = 0
    last_readings: dict[str, Reading] = field(default_factory=dict)

    def stale(self, now: float) -> bool:
        """No fresh reading for two poll intervals (wall-clock now)."""
        if self.last_reading_ts is None:
            return True
        return now - self.last_reading_ts > 2 * self.poll + 1.0


@dataclass(kw_only=True)
class BusStats:
    """Counters of one bus for the health report."""

    name: str
    polls_ok: int = 0
    polls_failed: int = 0
    requests_sent: int = 0
    requests_failed: int = 0
    requests_saved: int = 0
    """Requests not sent because the planner merged them."""
    values_read: int = 0
    sink_errors: int = 0
    devices: dict[str, DeviceHealth] = field(default_factory=dict)
