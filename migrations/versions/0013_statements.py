"""interview drafts, confirmed statement versions and incidents

Revision ID: 20261130_statements
Revises: 20261130_custody_commitments
Create Date: 2026-11-30 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261130_statements"
down_revision: str | None = "20261130_custody_commitments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interview_drafts",
        sa.Column("interview_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("saved_by", sa.Uuid(), nullable=True),
        sa.Column("saved_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_interview_drafts_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_interview_drafts_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_interview_drafts_person_id_people")),
        sa.ForeignKeyConstraint(["saved_by"], ["users.id"], name=op.f("fk_interview_drafts_saved_by_users")),
        sa.PrimaryKeyConstraint("interview_id", name=op.f("pk_interview_drafts")),
    )
    with op.batch_alter_table("interview_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interview_drafts_case_id"), ["case_id"], unique=False)
    op.create_table(
        "statement_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("interview_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("draft_revision", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_statement_versions_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["interview_id"], ["interviews.id"], name=op.f("fk_statement_versions_interview_id_interviews")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_statement_versions_person_id_people")),
        sa.ForeignKeyConstraint(["recorded_by"], ["users.id"], name=op.f("fk_statement_versions_recorded_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_versions")),
        sa.UniqueConstraint("interview_id", "version", name=op.f("uq_statement_versions_interview_id")),
        info={"append_only": True},
    )
    with op.batch_alter_table("statement_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statement_versions_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_statement_versions_person_id"), ["person_id"], unique=False)
    op.create_table(
        "incidents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("interview_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("other_victims", sa.Integer(), nullable=True),
        sa.Column("witnesses", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_incidents_case_id_cases")),
        sa.ForeignKeyConstraint(["interview_id"], ["interviews.id"], name=op.f("fk_incidents_interview_id_interviews")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_incidents_person_id_people")),
        sa.ForeignKeyConstraint(["recorded_by"], ["users.id"], name=op.f("fk_incidents_recorded_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        info={"append_only": True},
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_interview_id"), ["interview_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_interview_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_case_id"))
    op.drop_table("incidents")
    with op.batch_alter_table("statement_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_versions_person_id"))
        batch_op.drop_index(batch_op.f("ix_statement_versions_case_id"))
    op.drop_table("statement_versions")
    with op.batch_alter_table("interview_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interview_drafts_case_id"))
    op.drop_table("interview_drafts")
