"""Backend-specific bulk writes of telemetry points, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.db.models import TelemetryPoint

PointRow = tuple[str, str, float, float | None, str | None, bool | None, str | None]
POINT_COLUMNS = ("device_id", "channel", "ts", "value", "string_value", "bool_value", "unit")


async def write_points(session: AsyncSession, rows: Sequence[PointRow]) -> None:
    """Append points in the session's open transaction, as fast as the backend allows."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # COPY is several times faster than multi-row INSERT; it runs on the same asyncpg
        # connection, so it belongs to the transaction SQLAlchemy already began.
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            TelemetryPoint.__tablename__, records=rows, columns=POINT_COLUMNS
        )
        return
    await connection.execute(
        insert(TelemetryPoint), [dict(zip(POINT_COLUMNS, row, strict=True)) for row in rows]
    )
