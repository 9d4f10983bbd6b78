"""SQLAlchemy models of the fleet database; Alembic migrations create the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import JSON, TypeDecorator

# Stable constraint names so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for a hot table.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; refuse naive datetimes, which would be ambiguous."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if not isinstance(value, datetime):
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with the naming convention above."""

    metadata = MetaData(naming_convention=NAMING)


class Device(Base):
    """A gateway the fleet knows or has heard from."""

    __tablename__ = "device"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    registered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """False for a device that published before anyone registered it: kept, but flagged."""
    description: Mapped[str | None] = mapped_column(String(200))
    first_seen: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime)
    online: Mapped[bool | None] = mapped_column(Boolean)
    state_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_health: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_health_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TelemetryBatch(Base):
    """One received batch; the unique key on (device, boot id, seq) is the dedup key."""

    __tablename__ = "telemetry_batch"
    __table_args__ = (
        UniqueConstraint("device_id", "boot_id", "seq", name="uq_telemetry_batch_key"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    boot_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    n_records: Mapped[int] = mapped_column(Integer)


class TelemetryPoint(Base):
    """One SenML record; `channel` is the record name, e.g. "meter/voltage"."""

    __tablename__ = "telemetry_point"
    __table_args__ = (Index("ix_telemetry_point_series", "device_id", "channel", "ts"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(128))
    ts: Mapped[float] = mapped_column(Double)
    """Unix seconds, as in SenML; a float keeps range queries and bulk COPY cheap."""
    value: Mapped[float | None] = mapped_column(Double)
    string_value: Mapped[str | None] = mapped_column(String)
    bool_value: Mapped[bool | None] = mapped_column(Boolean)
    unit: Mapped[str | None] = mapped_column(String(32))


# The provisioning tables live in their own module (fleet/db/provisioning.py); importing it
# here puts them on Base.metadata wherever the models are used (Alembic's comparison too).
from fleet.db import operations as _operations  # noqa: E402, F401
from fleet.db import ota as _ota  # noqa: E402, F401
from fleet.db import provisioning as _provisioning  # noqa: E402, F401
