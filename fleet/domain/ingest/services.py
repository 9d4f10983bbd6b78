"""The ingest service: one transaction per group of inbound messages, deduplicated by key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.db.models import Device, TelemetryBatch
from fleet.domain.ingest.schemas import (
    BatchKey,
    BatchReceived,
    ConfigReportReceived,
    HealthReceived,
    Inbound,
    IngestResult,
    StateReceived,
)
from fleet.domain.ingest.writers import PointRow, write_points
from fleet.domain.rollouts.reports import apply_reports


class IngestService:
    """Writes what the bridge received; the caller acks only what `commit` returns."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def commit(self, items: Sequence[Inbound], *, now: datetime) -> IngestResult:
        """Store a group of messages in one transaction; raises on any database error."""
        batches: dict[BatchKey, BatchReceived] = {}
        for item in items:
            if isinstance(item, BatchReceived):
                key = BatchKey(item.device_id, item.batch.boot_id, item.batch.seq)
                batches.setdefault(key, item)  # a resend inside one group counts once
        async with self._sessions() as session, session.begin():
            await _touch_devices(session, items, now)
            new_keys = await _insert_batches(session, batches, now)
            rows = [row for key in new_keys for row in _point_rows(batches[key])]
            await write_points(session, rows)
            await _apply_states(session, items)
            await _apply_health(session, items)
            await apply_reports(session, [i for i in items if isinstance(i, ConfigReportReceived)])
        return IngestResult(
            committed=list(batches),
            new_batches=len(new_keys),
            duplicate_batches=len(batches) - len(new_keys),
            new_points=len(rows),
        )


def _insert_for(session: AsyncSession) -> type[postgresql.Insert] | type[sqlite.Insert]:
    # Both dialects spell ON CONFLICT the same way in SQLAlchemy, but they are distinct classes.
    dialect = session.get_bind().dialect.name
    return postgresql.Insert if dialect == "postgresql" else sqlite.Insert


async def _touch_devices(session: AsyncSession, items: Sequence[Inbound], now: datetime) -> None:
    """Create unknown devices (unregistered) and move `last_seen` for live messages."""
    seen: dict[str, datetime] = {}
    retained_only: set[str] = set()
    for item in items:
        if isinstance(item, ConfigReportReceived):
            continue  # retained, and only about devices the fleet already sent a config
        if isinstance(item, StateReceived) and item.retained:
            retained_only.add(item.device_id)
        else:
            seen[item.device_id] = max(seen.get(item.device_id, item.received_at), item.received_at)
    retained_only -= seen.keys()
    insert_ = _insert_for(session)
    if seen:
        # Sorted, so that replicas sharing the ingest lock device rows in the same order.
        rows = [_new_device(device_id, now, seen[device_id]) for device_id in sorted(seen)]
        stmt = insert_(Device).values(rows)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[Device.id], set_={"last_seen": stmt.excluded.last_seen}
            )
        )
    if retained_only:
        rows = [_new_device(device_id, now, None) for device_id in sorted(retained_only)]
        await session.execute(insert_(Device).values(rows).on_conflict_do_nothing())


def _new_device(device_id: str, now: datetime, last_seen: datetime | None) -> dict[str, object]:
    return {
        "id": device_id,
        "registered": False,
        "first_seen": now,
        "last_seen": last_seen,
        "created_at": now,
    }


async def _insert_batches(
    session: AsyncSession, batches: dict[BatchKey, BatchReceived], now: datetime
) -> list[BatchKey]:
    """Insert batch rows; returns the keys that were not in the database before."""
    if not batches:
        return []
    rows = [
        {
            "device_id": key.device_id,
            "boot_id": key.boot_id,
            "seq": key.seq,
            "received_at": item.received_at,
            "n_records": len(item.batch.records),
        }
        for key, item in batches.items()
    ]
    stmt = (
        _insert_for(session)(TelemetryBatch)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["device_id", "boot_id", "seq"])
        .returning(TelemetryBatch.device_id, TelemetryBatch.boot_id, TelemetryBatch.seq)
    )
    result = await session.execute(stmt)
    return [BatchKey(*row) for row in result.all()]


def _point_rows(item: BatchReceived) -> list[PointRow]:
    device_id = item.device_id
    return [
        (device_id, r.name, r.time, r.value, r.string_value, r.bool_value, r.unit)
        for r in item.batch.records
    ]


async def _apply_states(session: AsyncSession, items: Sequence[Inbound]) -> None:
    """The last state per device in this group wins (they arrive in order)."""
    latest = {item.device_id: item for item in items if isinstance(item, StateReceived)}
    if latest:
        await session.execute(
            update(Device),
            [
                {"id": s.device_id, "online": s.online, "state_changed_at": s.received_at}
                for s in latest.values()
            ],
        )


async def _apply_health(session: AsyncSession, items: Sequence[Inbound]) -> None:
    """Keep the newest heartbeat per device, stored as the JSON the agent sent."""
    latest = {item.device_id: item for item in items if isinstance(item, HealthReceived)}
    if latest:
        await session.execute(
            update(Device),
            [
                {
                    "id": h.device_id,
                    "last_health": msgspec.to_builtins(h.health),
                    "last_health_at": h.received_at,
                }
                for h in latest.values()
            ],
        )
