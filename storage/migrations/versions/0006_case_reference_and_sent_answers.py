"""A review's case reference; each answer as the last summary showed it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_reference", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sent_answers", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_column("sent_answers")
        batch_op.drop_column("case_reference")
