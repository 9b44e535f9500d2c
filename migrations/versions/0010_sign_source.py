"""签收 made by telephone: who recorded a signature and through what

Issue 11 left 签收 to the department's own page. A department that signs by telephone has the
office record it (``notifier sign``): ``signed_via`` is the source of the signature (``page``,
``cli``, ``office``; a terms.Source) and ``recorded_by`` who recorded it when it was not the
department itself. Signatures made before this revision came through the page only, so they
are ``page``.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"  # main's head when this landed
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sign_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signed_via", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("recorded_by", sa.String(length=200), nullable=True))
    op.execute("UPDATE sign_requests SET signed_via = 'page' WHERE signed_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("sign_requests", schema=None) as batch_op:
        batch_op.drop_column("recorded_by")
        batch_op.drop_column("signed_via")
