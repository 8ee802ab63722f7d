"""retention: custodians' reviews of what comes due

Revision ID: 20261201_retention
Revises: 20261201_erasure_journal
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261201_retention"
down_revision: str | None = "20261201_erasure_journal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.LargeBinary(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_retention_reviews_case_id_cases")),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_retention_reviews_decided_by_users")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_retention_reviews_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_reviews")),
        sa.UniqueConstraint("person_id", "category", "due_on", name=op.f("uq_retention_reviews_person_id")),
    )
    with op.batch_alter_table("retention_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retention_reviews_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("retention_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retention_reviews_person_id"))
    op.drop_table("retention_reviews")
