"""audit credential

Revision ID: 20261125_audit_credential
Revises: 20261125_people
Create Date: 2026-11-25 15:39:34.835101
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db  # noqa: F401 - custom column types

revision: str = "20261125_audit_credential"
down_revision: str | None = "20261125_people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, not batch mode: recreating the table would drop its append-only triggers.


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("credential", sa.String(length=48), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_events", "credential")
