"""Alerts that someone owns: an owner, a state (new, acknowledged, action, closed), escalations
sent, and each alert's history of changes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The history is appended to, never rewritten: an UPDATE of any column but the sealed note
# (which `myreview keys rotate` re-seals) is refused. Rows go only with their alert (a purge).
COLUMNS = "alert_id, at, staff_id, action, state, owner_id"
APPEND_ONLY = {
    "sqlite": [
        f"CREATE TRIGGER alerthistory_no_update BEFORE UPDATE OF id, {COLUMNS} ON alerthistory "
        "BEGIN SELECT RAISE(ABORT, 'the alert history is append-only'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION alerthistory_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the alert history is append-only'; END $$",
        f"CREATE TRIGGER alerthistory_append_only BEFORE UPDATE OF id, {COLUMNS} "
        "ON alerthistory FOR EACH ROW EXECUTE FUNCTION alerthistory_append_only()",
    ],
}
DROP = {
    "sqlite": ["DROP TRIGGER alerthistory_no_update"],
    "postgresql": [
        "DROP TRIGGER alerthistory_append_only ON alerthistory",
        "DROP FUNCTION alerthistory_append_only()",
    ],
}


def upgrade() -> None:
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=16), nullable=False, server_default="new")
        )
        batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("state_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("escalations", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_safeguardingalert_state", ["state"])
    # Acknowledged on the board before states existed: acknowledged, owned by who did it.
    # Urgent alerts no one acknowledged are escalated once the app runs, as any other (one
    # email each at most, for the step they are due: they are unacknowledged).
    op.execute(
        "UPDATE safeguardingalert SET state = 'acknowledged', owner_id = acknowledged_by, "
        "state_at = acknowledged_at WHERE acknowledged_at IS NOT NULL"
    )
    # What was kept with an alert carries its lead's state and owner.
    for column in ("state", "owner_id", "state_at"):
        op.execute(
            f"UPDATE safeguardingalert SET {column} = (SELECT lead.{column} FROM "
            "safeguardingalert AS lead WHERE lead.id = safeguardingalert.merged_into) "
            "WHERE merged_into IS NOT NULL AND EXISTS (SELECT 1 FROM safeguardingalert AS "
            "lead WHERE lead.id = safeguardingalert.merged_into)"
        )
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.alter_column("state", server_default=None)
        batch_op.alter_column("escalations", server_default=None)
    op.create_table(
        "alerthistory",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["safeguardingalert.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerthistory_alert_id", "alerthistory", ["alert_id"])
    for statement in APPEND_ONLY.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    op.drop_index("ix_alerthistory_alert_id", table_name="alerthistory")
    op.drop_table("alerthistory")
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.drop_index("ix_safeguardingalert_state")
        batch_op.drop_column("escalations")
        batch_op.drop_column("state_at")
        batch_op.drop_column("owner_id")
        batch_op.drop_column("state")
