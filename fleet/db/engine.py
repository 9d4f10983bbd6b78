"""The async engine and session factory, tuned per backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from fleet.settings import DatabaseSettings


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An engine for the configured URL; SQLite gets WAL mode and a busy timeout."""
    if not settings.is_sqlite:
        return create_async_engine(settings.url, echo=settings.echo, pool_size=5, max_overflow=5)
    engine = create_async_engine(
        settings.url,
        echo=settings.echo,
        # One writer at a time is SQLite's rule anyway; a fresh connection per checkout
        # would pay the PRAGMAs again, so keep the default queue pool.
        connect_args={"timeout": 30},
    )
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def create_null_pool_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An engine that keeps no connections: for migrations and one-off admin work."""
    engine = create_async_engine(settings.url, echo=settings.echo, poolclass=NullPool)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (the API serialises them)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the bridge writes. FULL syncs the WAL on every commit:
    # an ack tells the edge to delete its copy, so a commit must survive a power cut too.
    # The bridge commits a whole group of batches at once, so this costs one fsync per group.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
