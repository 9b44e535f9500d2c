"""indexes for the windowed planning pass and the idle tick

The planning pass reads open recurring milestones (``recurrence IS NOT NULL``) and the
reminder log of the last weeks (``trigger_at >= …``) on every run; the tick looks for rows whose
lease expired (``status = 'sending' AND lease_until < now``). Without these indexes each is a
scan of a table that grows with every plan and every reminder sent. The lease index is partial:
it holds only the few rows in flight, so planners with stale statistics still pick it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.create_index("ix_milestones_recurrence", ["recurrence"], unique=False)
    with op.batch_alter_table("reminder_log", schema=None) as batch_op:
        batch_op.create_index("ix_reminder_log_trigger_at", ["trigger_at"], unique=False)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_sending_lease", ["lease_until"], unique=False,
                              sqlite_where=sa.text("status = 'sending'"),
                              postgresql_where=sa.text("status = 'sending'"))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_sending_lease")
    with op.batch_alter_table("reminder_log", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_log_trigger_at")
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_index("ix_milestones_recurrence")
