"""Alembic migrations: the only way the fleet schema is created or changed."""
