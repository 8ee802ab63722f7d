"""one pending erasure request per person: a partial unique index

Revision ID: 20261201_one_pending_erasure
Revises: 20261201_consent_references
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_one_pending_erasure"
down_revision: str | None = "20261201_consent_references"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Requests filed twice for one person before this revision: the later ones join the first.
    op.execute(
        "UPDATE erasure_requests SET state = 'joined' WHERE state = 'pending' AND EXISTS ("
        "SELECT 1 FROM erasure_requests AS e WHERE e.person_id = erasure_requests.person_id AND e.state = 'pending'"
        " AND (e.requested_at < erasure_requests.requested_at"
        " OR (e.requested_at = erasure_requests.requested_at AND e.id < erasure_requests.id)))"
    )
    op.create_index(
        "uq_erasure_requests_person_id",
        "erasure_requests",
        ["person_id"],
        unique=True,
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("uq_erasure_requests_person_id", table_name="erasure_requests")
