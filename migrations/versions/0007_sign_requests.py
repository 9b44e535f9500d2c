"""签收 and the grade ladder: sign_requests (a reminder asks a department to sign for an item)
and grade_steps (an item's grade stepped up for a department, sent once)

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"  # main's head when this landed
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.Date(), nullable=False),
        sa.Column("digest_key", sa.String(length=64), nullable=False),
        sa.Column("asked_on", sa.Date(), nullable=False),
        sa.Column("sign_by", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=True),
        sa.Column("signed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_sign_requests_department_id_departments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["milestone_id"], ["milestones.id"],
                                name=op.f("fk_sign_requests_milestone_id_milestones"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_requests")),
        sa.UniqueConstraint("department_id", "milestone_id", "occurrence", "digest_key",
                            name="uq_sign_requests_item"),
    )
    op.create_index(op.f("ix_sign_requests_milestone_id"), "sign_requests", ["milestone_id"], unique=False)
    op.create_index("ix_sign_requests_department_status", "sign_requests", ["department_id", "status"], unique=False)
    op.create_index("ix_sign_requests_status_sign_by", "sign_requests", ["status", "sign_by"], unique=False)
    op.create_table(
        "grade_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.Date(), nullable=False),
        sa.Column("grade", sa.String(length=10), nullable=False),
        sa.Column("digest_key", sa.String(length=64), nullable=False),
        sa.Column("stepped_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_grade_steps_department_id_departments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["milestone_id"], ["milestones.id"],
                                name=op.f("fk_grade_steps_milestone_id_milestones"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_steps")),
        sa.UniqueConstraint("department_id", "milestone_id", "occurrence", "grade", "digest_key",
                            name="uq_grade_steps_item"),
    )
    op.create_index(op.f("ix_grade_steps_milestone_id"), "grade_steps", ["milestone_id"], unique=False)
    op.create_index("ix_grade_steps_department_item", "grade_steps",
                    ["department_id", "milestone_id", "occurrence"], unique=False)


def downgrade() -> None:
    op.drop_table("grade_steps")
    op.drop_table("sign_requests")
