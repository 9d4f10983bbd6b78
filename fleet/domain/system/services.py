"""Health service: asks the database and reads the bridge counters."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.bridge.counters import BridgeCounters
from fleet.domain.system.schemas import BridgeStatus, HealthStatus

log = logging.getLogger("fleet.health")


async def health(session: AsyncSession, counters: BridgeCounters | None) -> HealthStatus:
    """The fleet's health: database reachable, bridge connected, and the bridge counters."""
    try:
        await session.execute(text("SELECT 1"))
        database = True
    except (SQLAlchemyError, OSError) as exc:
        log.warning("health check: database unreachable: %s", exc)
        database = False
    bridge = None
    if counters is not None:
        bridge = BridgeStatus(
            connected=counters.connected,
            connects=counters.connects,
            disconnects=counters.disconnects,
            messages=counters.messages,
            batches_new=counters.batches_new,
            batches_duplicate=counters.batches_duplicate,
            points=counters.points,
            states=counters.states,
            healths=counters.healths,
            flushes=counters.flushes,
            acks_sent=counters.acks_sent,
            db_errors=counters.db_errors,
            rejected=dict(counters.rejected),
        )
    ok = database and (bridge is None or bridge.connected)
    return HealthStatus(status="ok" if ok else "degraded", database=database, bridge=bridge)
