"""interviews

Revision ID: 20261130_interviews
Revises: 20261130_duplicate_review_links
Create Date: 2026-11-30 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261130_interviews"
down_revision: str | None = "20261130_duplicate_review_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("participation_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("scheduled_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("started_at", app.core.db.UTCDateTime(), nullable=True),
        sa.Column("ended_at", app.core.db.UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(), nullable=True),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_interviews_case_id_cases")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_interviews_created_by_users")),
        sa.ForeignKeyConstraint(
            ["participation_id"],
            ["participation_consents.id"],
            name=op.f("fk_interviews_participation_id_participation_consents"),
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_interviews_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interviews")),
    )
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interviews_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_interviews_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interviews_person_id"))
        batch_op.drop_index(batch_op.f("ix_interviews_case_id"))
    op.drop_table("interviews")
