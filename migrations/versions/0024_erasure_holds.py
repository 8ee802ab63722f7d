"""erasure holds: legal holds on people

Revision ID: 20261201_erasure_holds
Revises: 20261201_export_redaction_reviews
Create Date: 2026-12-01 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261201_erasure_holds"
down_revision: str | None = "20261201_export_redaction_reviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("requested_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_by", sa.Uuid(), nullable=True),
        sa.Column("confirmed_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.Uuid(), nullable=True),
        sa.Column("lifted_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lift_details", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_legal_holds_case_id_cases")),
        sa.ForeignKeyConstraint(["confirmed_by"], ["users.id"], name=op.f("fk_legal_holds_confirmed_by_users")),
        sa.ForeignKeyConstraint(["lifted_by"], ["users.id"], name=op.f("fk_legal_holds_lifted_by_users")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_legal_holds_person_id_people")),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], name=op.f("fk_legal_holds_requested_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_holds_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_legal_holds_state"), ["state"], unique=False)
    op.create_index(
        "uq_legal_holds_person_id",
        "legal_holds",
        ["person_id"],
        unique=True,
        sqlite_where=sa.text("state IN ('requested', 'active')"),
        postgresql_where=sa.text("state IN ('requested', 'active')"),
    )


def downgrade() -> None:
    op.drop_index("uq_legal_holds_person_id", table_name="legal_holds")
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_holds_state"))
        batch_op.drop_index(batch_op.f("ix_legal_holds_person_id"))
    op.drop_table("legal_holds")
