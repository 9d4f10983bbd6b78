"""Provisioning: claim tokens, poles, device identities and the device lifecycle log.

Revision ID: 0002_provisioning
Revises: 0001
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fleet.db.models import BigIntId, UtcDateTime

revision = "0002_provisioning"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claim",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("group_path", sa.String(200), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_claim"),
        sa.UniqueConstraint("token_hash", name="uq_claim_token_hash"),
    )
    op.create_table(
        "pole",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("street", sa.String(200), nullable=True),
        sa.Column("district", sa.String(200), nullable=True),
        sa.Column("group_path", sa.String(200), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pole"),
        sa.UniqueConstraint("device_id", name="uq_pole_device_id"),
    )
    op.create_table(
        "device_identity",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        sa.Column("key_algorithm", sa.String(16), nullable=False),
        sa.Column("claim_id", sa.String(32), nullable=False),
        sa.Column("group_path", sa.String(200), nullable=False),
        sa.Column("pole_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("enrolled_at", UtcDateTime(), nullable=False),
        sa.Column("credentials_issued_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("decommissioned_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], name="fk_device_identity_device"),
        sa.PrimaryKeyConstraint("device_id", name="pk_device_identity"),
        sa.UniqueConstraint("serial", name="uq_device_identity_serial"),
    )
    op.create_table(
        "device_event",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_device_event"),
    )
    op.create_index("ix_device_event_device", "device_event", ["device_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_device_event_device", table_name="device_event")
    op.drop_table("device_event")
    op.drop_table("device_identity")
    op.drop_table("pole")
    op.drop_table("claim")
