"""Children's words, names and email bodies sealed per field (storage/crypto.py)

The columns become TEXT to hold `v1:<key id>:...` values. Rows written before stay readable as
they are and are sealed by the first `myreview migrate`, `myreview keys rotate` or start-up.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# table -> [(column, type before, nullable)]
CHANGED = {
    "review": [("first_name", sa.String(80), False), ("preferred_name", sa.String(80), True)],
    "channellink": [("conversation_reference", sa.JSON(), True)],
    "answer": [("value", sa.JSON(), True)],
    "processedactivity": [("replies", sa.JSON(), True)],
    "outboxmessage": [("subject", sa.String(300), False)],
}


def _alter(to_text: bool) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, columns in CHANGED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, before, nullable in columns:
                new, old = (sa.Text(), before) if to_text else (before, sa.Text())
                kw = {}
                if postgres and isinstance(before, sa.JSON):
                    kw["postgresql_using"] = f"{column}::{'text' if to_text else 'json'}"
                batch_op.alter_column(
                    column, existing_type=old, type_=new, existing_nullable=nullable, **kw
                )


def upgrade() -> None:
    _alter(to_text=True)


def downgrade() -> None:
    # Only meaningful before any value was sealed: sealed values are not JSON.
    _alter(to_text=False)
