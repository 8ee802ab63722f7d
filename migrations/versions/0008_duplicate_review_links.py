"""blind-index name forms; what a duplicate review matched, its inference and blocks; same-person groups

Revision ID: 20261130_duplicate_review_links
Revises: 20261130_trail_and_halves
Create Date: 2026-11-30 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261130_duplicate_review_links"
down_revision: str | None = "20261130_trail_and_halves"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Rows indexed and reviews raised before this keep null name forms and matches: they cannot be
# recovered without opening every identity, and a review shows them as not recorded.


def upgrade() -> None:
    with op.batch_alter_table("person_blind_index", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_form", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("name_number", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("with_year", sa.Boolean(), nullable=True))
    with op.batch_alter_table("duplicate_reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=16), server_default="blind_index", nullable=False))
        batch_op.add_column(sa.Column("matches", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("inferred", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("linked_by", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("blocked_by", sa.JSON(), nullable=True))
    op.create_table(
        "same_person_links",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("linked_at", app.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_same_person_links_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_same_person_links")),
    )
    with op.batch_alter_table("same_person_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_same_person_links_group_id"), ["group_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("same_person_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_same_person_links_group_id"))
    op.drop_table("same_person_links")
    with op.batch_alter_table("duplicate_reviews", schema=None) as batch_op:
        batch_op.drop_column("blocked_by")
        batch_op.drop_column("linked_by")
        batch_op.drop_column("inferred")
        batch_op.drop_column("matches")
        batch_op.drop_column("origin")
    with op.batch_alter_table("person_blind_index", schema=None) as batch_op:
        batch_op.drop_column("with_year")
        batch_op.drop_column("name_number")
        batch_op.drop_column("name_form")
