"""Run the Alembic migrations from code: at `fleet serve` start-up, in `fleet migrate`, in tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from fleet.db.engine import create_null_pool_engine
from fleet.settings import DatabaseSettings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at fleet/migrations, with no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade_to_head(settings: DatabaseSettings) -> str | None:
    """Bring the schema to the newest revision; returns that revision id."""
    config = alembic_config()
    engine = create_null_pool_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, config)
            return await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
