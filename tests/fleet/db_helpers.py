"""Read the fleet database directly in tests, to check what was really committed."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.db.models import Device, TelemetryBatch, TelemetryPoint


async def count_batches(sessions: async_sessionmaker[AsyncSession], device_id: str) -> int:
    """Batch rows stored for one device."""
    async with sessions() as session:
        stmt = select(func.count()).where(TelemetryBatch.device_id == device_id)
        return int(await session.scalar(stmt) or 0)


async def count_points(sessions: async_sessionmaker[AsyncSession], device_id: str) -> int:
    """Point rows stored for one device."""
    async with sessions() as session:
        stmt = select(func.count()).where(TelemetryPoint.device_id == device_id)
        return int(await session.scalar(stmt) or 0)


async def stored_seqs(
    sessions: async_sessionmaker[AsyncSession], device_id: str
) -> list[tuple[str, int]]:
    """(boot_id, seq) of every stored batch of a device, sorted."""
    async with sessions() as session:
        stmt = select(TelemetryBatch.boot_id, TelemetryBatch.seq).where(
            TelemetryBatch.device_id == device_id
        )
        return sorted((boot_id, seq) for boot_id, seq in (await session.execute(stmt)).all())


async def get_device(sessions: async_sessionmaker[AsyncSession], device_id: str) -> Device | None:
    """The device row, or None."""
    async with sessions() as session:
        return await session.get(Device, device_id)
