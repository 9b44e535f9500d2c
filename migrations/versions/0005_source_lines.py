"""source lines: each task and milestone records the line (or table row) it came from

Issue 12 asks that every task and milestone says where in the document it was read, so an
office can check an import against the paper. Nullable: rows imported before this
revision have no line, and a task made up by the importer (a plan-end milestone) has none
of its own.

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0006"  # the newest revision when this branch last merged main
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line", sa.Integer(), nullable=True))
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_column("line")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("line")
