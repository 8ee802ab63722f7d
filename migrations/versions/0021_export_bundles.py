"""export bundles: what the build stored for an export (size, SHA-256, manifest hash, whether age-encrypted)

Revision ID: 20261201_export_bundles
Revises: 20261201_redactions
Create Date: 2026-12-01 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_export_bundles"
down_revision: str | None = "20261201_redactions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("export_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bundle_size", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("bundle_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("bundle_manifest_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("bundle_encrypted", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_requests", schema=None) as batch_op:
        batch_op.drop_column("bundle_encrypted")
        batch_op.drop_column("bundle_manifest_sha256")
        batch_op.drop_column("bundle_sha256")
        batch_op.drop_column("bundle_size")
