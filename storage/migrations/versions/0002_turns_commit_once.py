"""A turn commits once: replies kept with the seen marker; one alert per message

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processedactivity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replies", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("reply_ids", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("delivered_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("activity_id", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True)
        )
        batch_op.create_unique_constraint(
            "uq_safeguardingalert_conversation_activity", ["conversation_id", "activity_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.drop_constraint("uq_safeguardingalert_conversation_activity", type_="unique")
        batch_op.drop_column("activity_id")
    with op.batch_alter_table("processedactivity", schema=None) as batch_op:
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("reply_ids")
        batch_op.drop_column("replies")
