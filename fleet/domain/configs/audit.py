"""The config audit trail: one row per action on configs and rollouts, the engine's too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.db.ota import ConfigAudit

ENGINE = "rollout-engine"
"""The actor of automatic actions (auto-pause, auto-abort, stage advance)."""


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the session's transaction (it commits with the action)."""
    session.add(
        ConfigAudit(
            at=datetime.now(UTC),
            actor=actor[:64],
            action=action,
            target=target[:200],
            outcome=outcome,
            detail=detail,
        )
    )


async def recent(
    session: AsyncSession, *, limit: int, target: str | None = None
) -> list[ConfigAudit]:
    """The newest audit rows first, optionally for one target (e.g. rollout/7)."""
    query = select(ConfigAudit).order_by(ConfigAudit.id.desc()).limit(limit)
    if target is not None:
        query = query.where(ConfigAudit.target == target)
    return list(await session.scalars(query))
