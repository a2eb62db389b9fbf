"""A member of staff may hold more than one role: their main role (their home page) and the
others they hold besides (a duty team manager who is also an admin, an IRO who is also an
admin). Everyone already there holds their one role, and no other.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-11 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staffmember", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("extra_roles", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("staffmember", schema=None) as batch_op:
        batch_op.drop_column("extra_roles")
