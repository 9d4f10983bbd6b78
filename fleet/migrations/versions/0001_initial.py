"""Devices, telemetry batches (the dedup key) and telemetry points.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fleet.db.models import BigIntId, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("first_seen", UtcDateTime(), nullable=True),
        sa.Column("last_seen", UtcDateTime(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=True),
        sa.Column("state_changed_at", UtcDateTime(), nullable=True),
        sa.Column("last_health", sa.JSON(), nullable=True),
        sa.Column("last_health_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_device"),
    )
    op.create_table(
        "telemetry_batch",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("boot_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("n_records", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_telemetry_batch"),
        sa.UniqueConstraint("device_id", "boot_id", "seq", name="uq_telemetry_batch_key"),
    )
    op.create_table(
        "telemetry_point",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("string_value", sa.String(), nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("unit", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_telemetry_point"),
    )
    op.create_index("ix_telemetry_point_series", "telemetry_point", ["device_id", "channel", "ts"])


def downgrade() -> None:
    op.drop_index("ix_telemetry_point_series", table_name="telemetry_point")
    op.drop_table("telemetry_point")
    op.drop_table("telemetry_batch")
    op.drop_table("device")
