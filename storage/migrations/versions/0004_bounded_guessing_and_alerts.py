"""Wrong codes counted per user and service-wide; alerts grouped; second devices limited

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("codeattempt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("user_key", sqlmodel.sql.sqltypes.AutoString(length=600), nullable=True)
        )
        batch_op.create_index("ix_codeattempt_user_key", ["user_key"])
        batch_op.create_index("ix_codeattempt_attempted_at", ["attempted_at"])
    op.create_table(
        "codegate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slow_lane_at", UTCDateTime(), nullable=True),
        sa.Column("warned_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )

    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "email",
                sqlmodel.sql.sqltypes.AutoString(length=12),
                nullable=False,
                server_default="own",
            )
        )
        batch_op.create_index("ix_safeguardingalert_merged_into", ["merged_into"])
    with op.batch_alter_table("channellink", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trusted", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("revoked_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("other_device_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channellink", schema=None) as batch_op:
        batch_op.drop_column("other_device_at")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("trusted")
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.drop_index("ix_safeguardingalert_merged_into")
        batch_op.drop_column("email")
        batch_op.drop_column("merged_into")
    op.drop_table("codegate")
    with op.batch_alter_table("codeattempt", schema=None) as batch_op:
        batch_op.drop_index("ix_codeattempt_attempted_at")
        batch_op.drop_index("ix_codeattempt_user_key")
        batch_op.drop_column("user_key")
