"""A child's reviews linked (a keyed hash of the case reference) and their Language of Care
kept for the next one; CSV imports in progress

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("child_key", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_review_child_key"), ["child_key"], unique=False)
    op.create_table(
        "languageofcare",
        sa.Column("child_key", sa.String(length=64), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("review_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("answers", sa.Text(), nullable=True),
        sa.Column("saved_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("child_key"),
    )
    with op.batch_alter_table("languageofcare", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_languageofcare_review_id"), ["review_id"])
        batch_op.create_index(batch_op.f("ix_languageofcare_review_at"), ["review_at"])
    op.create_table(
        "reviewimport",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staffmember.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reviewimport", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviewimport_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reviewimport_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("reviewimport")
    op.drop_table("languageofcare")
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_child_key"))
        batch_op.drop_column("child_key")
