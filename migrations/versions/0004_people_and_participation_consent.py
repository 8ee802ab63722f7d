"""people and participation consent

Revision ID: 20261125_people
Revises: 20261125_audit
Create Date: 2026-11-25 15:18:18.694200
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261125_people"
down_revision: str | None = "20261125_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "people",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("identity", sa.LargeBinary(), nullable=True),
        sa.Column("contact", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", app.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_people_case_id_cases")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_people_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("code", name=op.f("uq_people_code")),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_people_case_id"), ["case_id"], unique=False)

    op.create_table(
        "duplicate_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_a", sa.Uuid(), nullable=False),
        sa.Column("person_b", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", app.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_duplicate_reviews_decided_by_users")),
        sa.ForeignKeyConstraint(
            ["person_a"], ["people.id"], name=op.f("fk_duplicate_reviews_person_a_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_b"], ["people.id"], name=op.f("fk_duplicate_reviews_person_b_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_reviews")),
        sa.UniqueConstraint("person_a", "person_b", name=op.f("uq_duplicate_reviews_person_a")),
    )
    op.create_table(
        "participation_consents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("allows_collection", sa.Boolean(), nullable=False),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("form_version", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("form_digest", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=24), nullable=False),
        sa.Column("obtained_by", sa.Uuid(), nullable=True),
        sa.Column("obtained_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["obtained_by"], ["users.id"], name=op.f("fk_participation_consents_obtained_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_participation_consents_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participation_consents")),
        sa.UniqueConstraint("person_id", "version", name=op.f("uq_participation_consents_person_id")),
    )
    with op.batch_alter_table("participation_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_participation_consents_person_id"), ["person_id"], unique=False)

    op.create_table(
        "person_blind_index",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_person_blind_index_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_blind_index")),
    )
    with op.batch_alter_table("person_blind_index", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_blind_index_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_blind_index_person_id"), ["person_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("person_blind_index", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_blind_index_person_id"))
        batch_op.drop_index(batch_op.f("ix_person_blind_index_key"))

    op.drop_table("person_blind_index")
    with op.batch_alter_table("participation_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participation_consents_person_id"))

    op.drop_table("participation_consents")
    op.drop_table("duplicate_reviews")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_case_id"))

    op.drop_table("people")
