"""A gateway's effective status: its retained state, its last will, and a heartbeat timeout."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

Status = Literal["online", "offline", "unknown"]
DEFAULT_INTERVAL_S = 30.0
TIMEOUT_FACTOR = 3.0
"""A gateway is offline after missing this many heartbeats, whatever its retained state says."""


def heartbeat_timeout_s(last_health: dict[str, Any] | None) -> float:
    """How long after its last sign of life a gateway counts as offline (3 heartbeats)."""
    interval = (last_health or {}).get("interval_s") or DEFAULT_INTERVAL_S
    try:
        return TIMEOUT_FACTOR * max(float(interval), 0.1)
    except (TypeError, ValueError):
        return TIMEOUT_FACTOR * DEFAULT_INTERVAL_S


def effective_status(
    *,
    online: bool | None,
    state_changed_at: datetime | None,
    last_health_at: datetime | None,
    last_health: dict[str, Any] | None,
    now: datetime,
) -> Status:
    """offline on `offline` (clean disconnect or last will) or after the heartbeat timeout."""
    if online is False:
        return "offline"
    signs = [t for t in (state_changed_at, last_health_at) if t is not None]
    if online is None and last_health_at is None:
        return "unknown"
    if not signs:
        return "unknown"
    if (now - max(signs)).total_seconds() > heartbeat_timeout_s(last_health):
        return "offline"
    return "online"
