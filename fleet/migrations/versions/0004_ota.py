"""Over-the-air configuration: config layers, membership, device config state, rollouts, audit.

Revision ID: 0004_ota
Revises: 0003_operations
Create Date: 2025-06-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fleet.db.models import BigIntId, UtcDateTime

revision = "0004_ota"
down_revision = "0003_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_layer",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_config_layer"),
        sa.UniqueConstraint("scope", "target", "revision", name="uq_config_layer_revision"),
    )
    op.create_table(
        "device_membership",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("group_path", sa.String(200), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name="pk_device_membership"),
    )
    op.create_table(
        "device_config",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("desired_version", sa.Integer(), nullable=False),
        sa.Column("desired_config", sa.JSON(), nullable=False),
        sa.Column("desired_envelope", sa.LargeBinary(), nullable=False),
        sa.Column("desired_rollback", sa.Boolean(), nullable=False),
        sa.Column("desired_at", UtcDateTime(), nullable=False),
        sa.Column("rollout_id", BigIntId, nullable=True),
        sa.Column("applied_version", sa.Integer(), nullable=False),
        sa.Column("applied_config", sa.JSON(), nullable=True),
        sa.Column("reported_version", sa.Integer(), nullable=True),
        sa.Column("reported_status", sa.String(16), nullable=True),
        sa.Column("reported_reason", sa.Text(), nullable=True),
        sa.Column("reported_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("device_id", name="pk_device_config"),
    )
    op.create_table(
        "rollout",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("current_stage", sa.Integer(), nullable=False),
        sa.Column("stage_started_at", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rollout"),
        sa.UniqueConstraint("version", name="uq_rollout_version"),
    )
    op.create_table(
        "rollout_device",
        sa.Column("rollout_id", BigIntId, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("previous_version", sa.Integer(), nullable=False),
        sa.Column("previous_config", sa.JSON(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("published_at", UtcDateTime(), nullable=True),
        sa.Column("applied_at", UtcDateTime(), nullable=True),
        sa.Column("healthy_at", UtcDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("rollout_id", "device_id", name="pk_rollout_device"),
    )
    op.create_index("ix_rollout_device_status", "rollout_device", ["rollout_id", "status"])
    op.create_table(
        "config_audit",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_config_audit"),
    )
    op.create_index("ix_config_audit_at", "config_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_config_audit_at", table_name="config_audit")
    op.drop_table("config_audit")
    op.drop_index("ix_rollout_device_status", table_name="rollout_device")
    op.drop_table("rollout_device")
    op.drop_table("rollout")
    op.drop_table("device_config")
    op.drop_table("device_membership")
    op.drop_table("config_layer")
