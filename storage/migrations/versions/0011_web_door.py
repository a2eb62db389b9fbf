"""The web door: MyReview's own Direct Line channel, its chats and their queue

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webconversation",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("token_generation", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("started", sa.Boolean(), nullable=False),
        sa.Column("delivered_upto", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webconversation_last_seen_at", "webconversation", ["last_seen_at"])
    op.create_table(
        "webactivity",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("activity_id", sa.String(length=200), nullable=False),
        sa.Column("dedupe_key", sa.String(length=260), nullable=False),
        sa.Column("from_bot", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("conversation_id", "dedupe_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webactivity_conversation_id", "webactivity", ["conversation_id"])
    op.create_index("ix_webactivity_created_at", "webactivity", ["created_at"])
    with op.batch_alter_table("channellink", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_because", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channellink", schema=None) as batch_op:
        batch_op.drop_column("closed_because")
    op.drop_index("ix_webactivity_created_at", table_name="webactivity")
    op.drop_index("ix_webactivity_conversation_id", table_name="webactivity")
    op.drop_table("webactivity")
    op.drop_index("ix_webconversation_last_seen_at", table_name="webconversation")
    op.drop_table("webconversation")
