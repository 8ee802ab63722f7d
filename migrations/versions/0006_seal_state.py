"""seal state: whether values sealed before AAD v2 still open

Revision ID: 20261130_seal_state
Revises: 20261125_audit_credential
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261130_seal_state"
down_revision: str | None = "20261125_audit_credential"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    state = op.create_table(
        "seal_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("accept_v1", sa.Boolean(), nullable=False),
        sa.Column("resealed_at", app.core.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_seal_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_state")),
    )
    # Not a backfill: one row saying whether anything was sealed before this version. A database
    # with nothing sealed yet starts strict; any other waits for `testimony keys reseal`.
    conn = op.get_bind()
    sealed = conn.execute(
        sa.text(
            "SELECT EXISTS (SELECT 1 FROM people WHERE identity IS NOT NULL OR contact IS NOT NULL) "
            "OR EXISTS (SELECT 1 FROM participation_consents)"
        )
    ).scalar_one()
    op.bulk_insert(state, [{"id": 1, "accept_v1": bool(sealed), "resealed_at": None}])


def downgrade() -> None:
    op.drop_table("seal_state")
