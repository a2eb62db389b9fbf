"""Safeguarding alerts in tiers: clear (urgent), unsure (a gentle check and a note to the IRO),
and what a child said after the help (kept with the alert it follows)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tier", sa.String(length=12), nullable=False, server_default="clear")
        )


def downgrade() -> None:
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.drop_column("tier")
