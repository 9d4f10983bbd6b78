"""Persistence: SQLAlchemy models, the async engine, and running the Alembic migrations."""
