"""Staff: accounts, set-up links, sessions, failed sign-ins, the audit trail; alerts owned

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The audit trail is append-only in the database too, not only in the app's code: an UPDATE or
# DELETE through SQL is refused. Someone with the file can drop the trigger, which is what the
# hash chain (`myreview audit verify`) is for.
APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER auditevent_no_update BEFORE UPDATE ON auditevent "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
        "CREATE TRIGGER auditevent_no_delete BEFORE DELETE ON auditevent "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$",
        "CREATE TRIGGER auditevent_append_only BEFORE UPDATE OR DELETE ON auditevent "
        "FOR EACH ROW EXECUTE FUNCTION auditevent_append_only()",
    ],
}
DROP = {
    "sqlite": ["DROP TRIGGER auditevent_no_update", "DROP TRIGGER auditevent_no_delete"],
    "postgresql": [
        "DROP TRIGGER auditevent_append_only ON auditevent",
        "DROP FUNCTION auditevent_append_only()",
    ],
}


def upgrade() -> None:
    op.create_table(
        "staffmember",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("totp_secret", sa.Text(), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "staffsetuptoken",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staffmember.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_staffsetuptoken_staff_id", "staffsetuptoken", ["staff_id"])
    op.create_table(
        "staffsession",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staffmember.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staffsession_staff_id", "staffsession", ["staff_id"])
    op.create_table(
        "signinfailure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signinfailure_key", "signinfailure", ["key"])
    op.create_index("ix_signinfailure_at", "signinfailure", ["at"])
    op.create_table(
        "auditevent",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hash"),
    )
    op.create_index("ix_auditevent_review_id", "auditevent", ["review_id"])
    for statement in APPEND_ONLY.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("acknowledgement_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("safeguardingalert", schema=None) as batch_op:
        batch_op.drop_column("acknowledgement_note")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("acknowledged_at")
    for statement in DROP.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    op.drop_index("ix_auditevent_review_id", table_name="auditevent")
    op.drop_table("auditevent")
    op.drop_index("ix_signinfailure_at", table_name="signinfailure")
    op.drop_index("ix_signinfailure_key", table_name="signinfailure")
    op.drop_table("signinfailure")
    op.drop_index("ix_staffsession_staff_id", table_name="staffsession")
    op.drop_table("staffsession")
    op.drop_index("ix_staffsetuptoken_staff_id", table_name="staffsetuptoken")
    op.drop_table("staffsetuptoken")
    op.drop_table("staffmember")
