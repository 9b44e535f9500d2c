"""department due index: when the planning pass must next look at each department

Issue 13: a pass selects the departments whose time has come with an index seek instead of
loading every open item. Every existing department starts due now (``1970-01-01``), so the
first pass after the upgrade plans each once and writes its real next time: the index
rebuilds itself on upgrade.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"  # main's head when this branch last rebased
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "department_due",
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], ondelete="CASCADE",
                                name=op.f("fk_department_due_department_id_departments")),
        sa.PrimaryKeyConstraint("department_id", name=op.f("pk_department_due")),
    )
    op.create_index("ix_department_due_next", "department_due", ["next_due_at"], unique=False)
    op.create_table(
        "due_index_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("planned_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_due_index_state")),
    )
    # What a pass reads must not grow with the history: today's digests (one message a day), a
    # department's recent reminder log, and the never-attempted pending deliveries (a partial
    # index holds only those few rows) are index ranges.
    op.create_index("ix_digests_day", "digests", ["day"], unique=False)
    op.create_index("ix_reminder_log_department_trigger", "reminder_log", ["department_id", "trigger_at"], unique=False)
    op.create_index("ix_deliveries_unattempted", "deliveries", ["digest_id"], unique=False,
                    sqlite_where=sa.text("status = 'pending' AND attempts = 0"),
                    postgresql_where=sa.text("status = 'pending' AND attempts = 0"))
    op.execute("INSERT INTO department_due (department_id, next_due_at, version) "
               "SELECT id, '1970-01-01 00:00:00', 0 FROM departments")


def downgrade() -> None:
    op.drop_index("ix_deliveries_unattempted", table_name="deliveries")
    op.drop_index("ix_reminder_log_department_trigger", table_name="reminder_log")
    op.drop_index("ix_digests_day", table_name="digests")
    op.drop_table("due_index_state")
    op.drop_index("ix_department_due_next", table_name="department_due")
    op.drop_table("department_due")
