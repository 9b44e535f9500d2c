"""a plan has a life: status (active | closed) and when it was closed

A plan more than ``[schedule] after_end_days`` past its end is closed when the office's
closing report is queued; ``notifier plan close|reopen`` changes it by hand, and a plan
imported after its period is imported closed. Reminders go only to active plans.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=10), nullable=False,
                                      server_default="active"))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("status")
