"""Notices to children (a review moved, cancelled, read), and reviews cancelled or read

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("read_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("read_by", sa.Integer(), nullable=True))
    op.create_table(
        "childnotice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("params", sa.Text(), nullable=True),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_childnotice_review_id", "childnotice", ["review_id"])
    op.create_index("ix_childnotice_due", "childnotice", ["state", "next_attempt_at"])
    op.create_table(
        "childnoticedelivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["childnotice.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["link_id"], ["channellink.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_id", "link_id"),
    )
    op.create_index("ix_childnoticedelivery_notice_id", "childnoticedelivery", ["notice_id"])
    op.create_index("ix_childnoticedelivery_link_id", "childnoticedelivery", ["link_id"])


def downgrade() -> None:
    op.drop_index("ix_childnoticedelivery_link_id", table_name="childnoticedelivery")
    op.drop_index("ix_childnoticedelivery_notice_id", table_name="childnoticedelivery")
    op.drop_table("childnoticedelivery")
    op.drop_index("ix_childnotice_due", table_name="childnotice")
    op.drop_index("ix_childnotice_review_id", table_name="childnotice")
    op.drop_table("childnotice")
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_column("read_by")
        batch_op.drop_column("read_at")
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_at")
