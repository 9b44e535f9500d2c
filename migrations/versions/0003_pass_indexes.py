"""indexes for the windowed planning pass

The planning pass reads open recurring milestones (``recurrence IS NOT NULL``) and the
reminder log of the last weeks (``trigger_at >= …``) on every run; without these two indexes
both are scans of tables that grow with every plan and every reminder sent.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.create_index("ix_milestones_recurrence", ["recurrence"], unique=False)
    with op.batch_alter_table("reminder_log", schema=None) as batch_op:
        batch_op.create_index("ix_reminder_log_trigger_at", ["trigger_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reminder_log", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_log_trigger_at")
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_index("ix_milestones_recurrence")
