"""Fixtures of the fleet tests: a migrated database and its session factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleet.db.engine import create_engine, session_factory
from fleet.db.migrate import upgrade_to_head
from fleet.settings import DatabaseSettings


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a freshly migrated database (sqlite and postgresql)."""
    settings = DatabaseSettings(url=db_url)
    await upgrade_to_head(settings)
    engine = create_engine(settings)
    yield session_factory(engine)
    await engine.dispose()
