"""custody commitments

Revision ID: 20261130_custody_commitments
Revises: 20261130_attachments
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261130_custody_commitments"
down_revision: str | None = "20261130_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custody_commitments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_custody_commitments_case_id_cases")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_custody_commitments_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_commitments")),
        sa.UniqueConstraint("audit_seq", name=op.f("uq_custody_commitments_audit_seq")),
        sa.UniqueConstraint("record_id", name=op.f("uq_custody_commitments_record_id")),
        info={"append_only": True},
    )
    with op.batch_alter_table("custody_commitments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_commitments_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_custody_commitments_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("custody_commitments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_commitments_person_id"))
        batch_op.drop_index(batch_op.f("ix_custody_commitments_case_id"))
    op.drop_table("custody_commitments")
