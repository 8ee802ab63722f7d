"""consent references: the keyed hash of each consent record's reference code, on its first version

Revision ID: 20261201_consent_references
Revises: 20261130_use_grants
Create Date: 2026-12-01 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_consent_references"
down_revision: str | None = "20261130_use_grants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("use_consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_use_consents_reference_hash"), ["reference_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("use_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_use_consents_reference_hash"))
        batch_op.drop_column("reference_hash")
