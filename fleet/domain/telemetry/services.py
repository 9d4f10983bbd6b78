"""Telemetry read service: latest value per channel and keyset-paginated series."""

from __future__ import annotations

import base64
import binascii
import struct

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fleet.db.models import TelemetryPoint
from fleet.domain.errors import InvalidQueryError
from fleet.domain.telemetry.schemas import LatestValues, Point, TelemetryPage, TelemetryQuery

# The cursor is (ts, id) of the last row served: keyset pagination stays correct and fast
# while new points keep arriving, unlike OFFSET.
_CURSOR = struct.Struct(">dq")


class TelemetryService:
    """Telemetry queries in one database session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def latest(self, device_id: str) -> LatestValues:
        """The newest point of every channel the device ever reported."""
        newest = (
            select(TelemetryPoint.channel, func.max(TelemetryPoint.ts).label("ts"))
            .where(TelemetryPoint.device_id == device_id)
            .group_by(TelemetryPoint.channel)
            .subquery()
        )
        query = (
            select(TelemetryPoint)
            .join(
                newest,
                and_(TelemetryPoint.channel == newest.c.channel, TelemetryPoint.ts == newest.c.ts),
            )
            .where(TelemetryPoint.device_id == device_id)
            .order_by(TelemetryPoint.channel, TelemetryPoint.id)
        )
        by_channel: dict[str, Point] = {}
        for row in await self._session.scalars(query):
            by_channel[row.channel] = _point(row)  # equal timestamps: the last stored wins
        return LatestValues(device_id=device_id, channels=list(by_channel.values()))

    async def window(self, device_id: str, *, since: float, limit: int) -> dict[str, list[Point]]:
        """The newest `limit` numeric points since `since`, per channel in time order (charts)."""
        rows = await self._session.scalars(
            select(TelemetryPoint)
            .where(
                TelemetryPoint.device_id == device_id,
                TelemetryPoint.ts >= since,
                TelemetryPoint.value.is_not(None),
            )
            .order_by(TelemetryPoint.ts.desc())
            .limit(limit)
        )
        by_channel: dict[str, list[Point]] = {}
        for row in rows:
            by_channel.setdefault(row.channel, []).append(_point(row))
        return {channel: points[::-1] for channel, points in sorted(by_channel.items())}

    async def series(self, query: TelemetryQuery) -> TelemetryPage:
        """One page of points in time order; raises InvalidQueryError for a bad cursor."""
        statement = select(TelemetryPoint).where(TelemetryPoint.device_id == query.device_id)
        if query.channel is not None:
            statement = statement.where(TelemetryPoint.channel == query.channel)
        if query.since is not None:
            statement = statement.where(TelemetryPoint.ts >= query.since)
        if query.until is not None:
            statement = statement.where(TelemetryPoint.ts < query.until)
        if query.cursor is not None:
            ts, row_id = decode_cursor(query.cursor)
            statement = statement.where(
                or_(
                    TelemetryPoint.ts > ts,
                    and_(TelemetryPoint.ts == ts, TelemetryPoint.id > row_id),
                )
            )
        statement = statement.order_by(TelemetryPoint.ts, TelemetryPoint.id).limit(query.limit + 1)
        rows = list(await self._session.scalars(statement))
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        return TelemetryPage(
            device_id=query.device_id,
            items=[_point(row) for row in rows],
            next_cursor=encode_cursor(rows[-1].ts, rows[-1].id) if more else None,
        )


def encode_cursor(ts: float, row_id: int) -> str:
    """An opaque, URL-safe cursor for the position after (ts, id)."""
    return base64.urlsafe_b64encode(_CURSOR.pack(ts, row_id)).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, int]:
    """The (ts, id) a cursor stands for; InvalidQueryError if it was not made by us."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, row_id = _CURSOR.unpack(raw)
    except (binascii.Error, struct.error, ValueError):
        raise InvalidQueryError("malformed cursor") from None
    return ts, row_id


def _point(row: TelemetryPoint) -> Point:
    return Point(
        channel=row.channel,
        ts=row.ts,
        value=row.value,
        string_value=row.string_value,
        bool_value=row.bool_value,
        unit=row.unit,
    )
