"""Staff sign in with Microsoft Entra ID (their object id, stored on first sign-in); each
summary sent after the first, for the summary page's history; reviews found by their IRO's
email in any case through an index

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staffmember", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entra_oid", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_staffmember_entra_oid", ["entra_oid"], unique=True)
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_history", sa.Text(), nullable=True))
    op.create_index("ix_review_iro_email_lower", "review", [sa.text("lower(iro_email)")])


def downgrade() -> None:
    op.drop_index("ix_review_iro_email_lower", table_name="review")
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_column("sent_history")
    with op.batch_alter_table("staffmember", schema=None) as batch_op:
        batch_op.drop_index("ix_staffmember_entra_oid")
        batch_op.drop_column("entra_oid")
