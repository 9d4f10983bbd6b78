"""Compare the heartbeats of a stage's devices with untouched ones; name what is worse.

Signals from the Health message: poll error rate (failed / all polls, a two-proportion
z-test), agent restarts since the config was applied (two-proportion z-test on devices),
and buffer backlog (Welch's t on buffered batches). A signal counts only when it is both
significant (|z| or t above Z_LIMIT, p < 0.001) and large enough to matter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import msgspec

Z_LIMIT = 3.29
MIN_DEVICES = 5
MIN_ERROR_RATE_GAP = 0.02
MIN_RESTART_GAP = 0.1
MIN_BACKLOG_GAP = 5.0


class Signals(msgspec.Struct, frozen=True, kw_only=True):
    """One device's heartbeat reduced to the compared signals."""

    polls_ok: int
    polls_failed: int
    buffer_batches: int
    restarted: bool


def signals(health: dict[str, Any] | None, *, horizon_s: float) -> Signals | None:
    """Signals of a stored heartbeat; restarted = up for less than `horizon_s`."""
    if not health:
        return None
    buses = health.get("buses") or []
    return Signals(
        polls_ok=sum(int(bus.get("polls_ok", 0)) for bus in buses),
        polls_failed=sum(int(bus.get("polls_failed", 0)) for bus in buses),
        buffer_batches=int(health.get("buffer_batches", 0)),
        restarted=float(health.get("uptime_s", math.inf)) < horizon_s,
    )


def _z(fail_a: int, n_a: int, fail_b: int, n_b: int) -> float:
    """Two-proportion z statistic of a's rate above b's."""
    if not n_a or not n_b:
        return 0.0
    pooled = (fail_a + fail_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return 0.0 if spread == 0 else (fail_a / n_a - fail_b / n_b) / spread


def _welch(a: Sequence[float], b: Sequence[float]) -> float:
    """Welch's t statistic of a's mean above b's."""
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    var_a = sum((x - mean_a) ** 2 for x in a) / max(1, len(a) - 1)
    var_b = sum((x - mean_b) ** 2 for x in b) / max(1, len(b) - 1)
    spread = math.sqrt(var_a / len(a) + var_b / len(b))
    if spread == 0:
        return math.inf if mean_a > mean_b else 0.0
    return (mean_a - mean_b) / spread


def compare(canary: Sequence[Signals], control: Sequence[Signals]) -> str | None:
    """Why the canary is significantly worse than the control group, or None."""
    if len(canary) < MIN_DEVICES or len(control) < MIN_DEVICES:
        return None
    fail_a = sum(s.polls_failed for s in canary)
    n_a = fail_a + sum(s.polls_ok for s in canary)
    fail_b = sum(s.polls_failed for s in control)
    n_b = fail_b + sum(s.polls_ok for s in control)
    if n_a and n_b:
        rate_a, rate_b = fail_a / n_a, fail_b / n_b
        z = _z(fail_a, n_a, fail_b, n_b)
        if z > Z_LIMIT and rate_a - rate_b > MIN_ERROR_RATE_GAP:
            return (
                f"poll error rate {rate_a:.1%} on updated devices vs {rate_b:.1%} on untouched "
                f"ones (z={z:.1f})"
            )
    restarts_a = sum(s.restarted for s in canary)
    restarts_b = sum(s.restarted for s in control)
    z = _z(restarts_a, len(canary), restarts_b, len(control))
    gap = restarts_a / len(canary) - restarts_b / len(control)
    if z > Z_LIMIT and gap > MIN_RESTART_GAP:
        return (
            f"{restarts_a} of {len(canary)} updated devices restarted vs {restarts_b} of "
            f"{len(control)} untouched (z={z:.1f})"
        )
    backlog_a = [float(s.buffer_batches) for s in canary]
    backlog_b = [float(s.buffer_batches) for s in control]
    t = _welch(backlog_a, backlog_b)
    gap = sum(backlog_a) / len(backlog_a) - sum(backlog_b) / len(backlog_b)
    if t > Z_LIMIT and gap > MIN_BACKLOG_GAP:
        return f"buffer backlog {gap:.0f} batches above untouched devices on average (t={t:.1f})"
    return None
