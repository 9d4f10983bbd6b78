"""The Alembic migrations are the schema: they match the models and run on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from fleet.db.engine import create_null_pool_engine
from fleet.db.migrate import head_revision, upgrade_to_head
from fleet.db.models import Base
from fleet.settings import DatabaseSettings


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_creates_schema_matching_models(db_url: str) -> None:
    settings = DatabaseSettings(url=db_url)
    assert await upgrade_to_head(settings) == head_revision()
    engine = create_null_pool_engine(settings)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(_tables)
            diff = await connection.run_sync(_diff)
    finally:
        await engine.dispose()
    assert {"device", "telemetry_batch", "telemetry_point", "alembic_version"} <= tables
    assert diff == []


async def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    settings = DatabaseSettings(url=db_url)
    first = await upgrade_to_head(settings)
    assert await upgrade_to_head(settings) == first
