"""audit claimed and new credentials; sealed one-time password halves on confirmations

Revision ID: 20261130_trail_and_halves
Revises: 20261130_seal_state
Create Date: 2026-11-30 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261130_trail_and_halves"
down_revision: str | None = "20261130_seal_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on audit_events, not batch mode: recreating the table would drop its
# append-only triggers.


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("claimed_credential", sa.String(length=48), nullable=True))
    op.add_column("audit_events", sa.Column("new_credential", sa.String(length=48), nullable=True))
    with op.batch_alter_table("confirmations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("confirmations", schema=None) as batch_op:
        batch_op.drop_column("secret")
    op.drop_column("audit_events", "new_credential")
    op.drop_column("audit_events", "claimed_credential")
