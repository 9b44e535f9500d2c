"""the department's side: done requests under review, a percentage on progress reports

Issue 11: a department asks for 办结 (a done request); with ``[review] required`` the office
approves or returns it with a reason, and the return is told in the department's next digest
(``told_digest_id``: SET NULL when that digest is dropped unsent, so it is told again). A
progress report (报送进展) carries a percentage.

Revision ID: 0008
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0009"  # main's head when this branch landed
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "done_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.Date(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("told_digest_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["milestone_id"], ["milestones.id"],
                                name=op.f("fk_done_requests_milestone_id_milestones"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_done_requests_department_id_departments")),
        sa.ForeignKeyConstraint(["told_digest_id"], ["digests.id"],
                                name=op.f("fk_done_requests_told_digest_id_digests"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_done_requests")),
    )
    op.create_index(op.f("ix_done_requests_milestone_id"), "done_requests", ["milestone_id"], unique=False)
    op.create_index("ix_done_requests_state", "done_requests", ["state", "department_id"], unique=False)
    with op.batch_alter_table("progress_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("percent", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("progress_events", schema=None) as batch_op:
        batch_op.drop_column("percent")
    op.drop_index("ix_done_requests_state", table_name="done_requests")
    op.drop_index(op.f("ix_done_requests_milestone_id"), table_name="done_requests")
    op.drop_table("done_requests")
