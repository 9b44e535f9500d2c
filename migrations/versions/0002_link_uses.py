"""link_uses: reply links that have been used (one change per signed link)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_uses",
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.Date(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=False),
        sa.Column("progress_event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_link_uses_department_id_departments")),
        sa.ForeignKeyConstraint(["milestone_id"], ["milestones.id"], ondelete="CASCADE",
                                name=op.f("fk_link_uses_milestone_id_milestones")),
        sa.ForeignKeyConstraint(["progress_event_id"], ["progress_events.id"], ondelete="SET NULL",
                                name=op.f("fk_link_uses_progress_event_id_progress_events")),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_link_uses")),
    )
    with op.batch_alter_table("link_uses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_uses_milestone_id"), ["milestone_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_uses_milestone_id"))
    op.drop_table("link_uses")
