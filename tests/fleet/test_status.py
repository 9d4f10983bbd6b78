"""A gateway's effective status: retained state, last will, heartbeat timeout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleet.auth.principal import covers
from fleet.domain.health.status import effective_status, heartbeat_timeout_s

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def test_offline_on_will_or_clean_disconnect() -> None:
    recent = NOW - timedelta(seconds=1)
    assert (
        effective_status(
            online=False, state_changed_at=recent, last_health_at=recent, last_health={}, now=NOW
        )
        == "offline"
    )


def test_offline_after_three_missed_heartbeats() -> None:
    health = {"interval_s": 2.0}
    assert heartbeat_timeout_s(health) == 6.0
    assert heartbeat_timeout_s(None) == 90.0

    def status(seconds_ago: float) -> str:
        at = NOW - timedelta(seconds=seconds_ago)
        return effective_status(
            online=True, state_changed_at=at, last_health_at=at, last_health=health, now=NOW
        )

    assert status(5.9) == "online"
    assert status(6.1) == "offline"


def test_unknown_until_heard_from() -> None:
    assert (
        effective_status(
            online=None, state_changed_at=None, last_health_at=None, last_health=None, now=NOW
        )
        == "unknown"
    )


def test_scope_covers_subtrees_only() -> None:
    assert covers("", None)
    assert covers("chengdu/wuhou", "chengdu/wuhou/street-7")
    assert covers("chengdu/wuhou", "chengdu/wuhou")
    assert not covers("chengdu/wuhou", "chengdu/wuhou-east/street-1")
    assert not covers("chengdu/wuhou", None)
    assert not covers("chengdu/wuhou/street-7", "chengdu/wuhou")
