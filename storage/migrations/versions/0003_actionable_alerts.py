"""Alerts carry what a duty worker needs to find the chat

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 21:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True)
        )
        batch_op.add_column(
            sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("aad_object_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.drop_column("aad_object_id")
        batch_op.drop_column("tenant_id")
        batch_op.drop_column("user_id")
