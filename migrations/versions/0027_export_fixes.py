"""export fixes: the ledger's record id and submission record; when a bundle was swept

Revision ID: 20261201_export_fixes
Revises: 20261201_retention
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261201_export_fixes"
down_revision: str | None = "20261201_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("disclosure_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_reason", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("submitted_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("submitted_at", app.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("record_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_disclosure_ledger_submitted_by_users"), "users", ["submitted_by"], ["id"]
        )
    with op.batch_alter_table("export_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bundle_removed_at", app.core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_requests", schema=None) as batch_op:
        batch_op.drop_column("bundle_removed_at")
    with op.batch_alter_table("disclosure_ledger", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_disclosure_ledger_submitted_by_users"), type_="foreignkey")
        batch_op.drop_column("record_id")
        batch_op.drop_column("submitted_at")
        batch_op.drop_column("submitted_by")
        batch_op.drop_column("submitted_reason")
