"""redactions: redacted versions of confirmed statement versions, append-only

Revision ID: 20261201_redactions
Revises: 20261201_exports
Create Date: 2026-12-01 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261201_redactions"
down_revision: str | None = "20261201_exports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "redactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("statement_version_id", sa.Uuid(), nullable=False),
        sa.Column("interview_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("prepared_by", sa.Uuid(), nullable=True),
        sa.Column("prepared_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_redactions_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["interview_id"], ["interviews.id"], name=op.f("fk_redactions_interview_id_interviews")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_redactions_person_id_people")),
        sa.ForeignKeyConstraint(["prepared_by"], ["users.id"], name=op.f("fk_redactions_prepared_by_users")),
        sa.ForeignKeyConstraint(
            ["statement_version_id"],
            ["statement_versions.id"],
            name=op.f("fk_redactions_statement_version_id_statement_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redactions")),
        sa.UniqueConstraint("statement_version_id", "number", name=op.f("uq_redactions_statement_version_id")),
        info={"append_only": True},
    )
    with op.batch_alter_table("redactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_redactions_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_redactions_interview_id"), ["interview_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_redactions_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("redactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_redactions_person_id"))
        batch_op.drop_index(batch_op.f("ix_redactions_interview_id"))
        batch_op.drop_index(batch_op.f("ix_redactions_case_id"))
    op.drop_table("redactions")
