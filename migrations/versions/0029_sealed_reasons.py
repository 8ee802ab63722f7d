"""sealed reasons: a custodian's reason for a decision on an export, and why a ledger row was submitted to
proceedings, sealed at rest

The clear columns stay for the values written before, which `testimony init` seals right after migrating
(app/exports/reasons.py ``seal_clear``: the keys are not reachable from a migration) and then clears.

Revision ID: 20261201_sealed_reasons
Revises: 20261201_key_rotation_page
Create Date: 2026-12-01 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_sealed_reasons"
down_revision: str | None = "20261201_key_rotation_page"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("export_approvals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_reason", sa.LargeBinary(), nullable=True))
        batch_op.alter_column("reason", existing_type=sa.String(length=2000), nullable=True)
    with op.batch_alter_table("disclosure_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_submitted_reason", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # The sealed reasons cannot be opened here: going down loses them (a decision's reason reads empty).
    with op.batch_alter_table("disclosure_ledger", schema=None) as batch_op:
        batch_op.drop_column("sealed_submitted_reason")
    op.execute("UPDATE export_approvals SET reason = '' WHERE reason IS NULL")
    with op.batch_alter_table("export_approvals", schema=None) as batch_op:
        batch_op.alter_column("reason", existing_type=sa.String(length=2000), nullable=False)
        batch_op.drop_column("sealed_reason")
