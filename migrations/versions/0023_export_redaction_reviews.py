"""export redaction reviews: custodians' reviews of the redactions an export would send, and the redactions an
approved export pins

Revision ID: 20261201_export_redaction_reviews
Revises: 20261201_downloads_recalls
Create Date: 2026-12-01 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261201_export_redaction_reviews"
down_revision: str | None = "20261201_downloads_recalls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # This revision's id is 33 characters; Alembic makes its version column 32 wide, which PostgreSQL enforces
    # (SQLite does not). Widened in this transaction, before Alembic records the id; left wide on the way down.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("alembic_version", "version_num", type_=sa.String(64), existing_type=sa.String(32))
    op.create_table(
        "export_redaction_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("export_id", sa.Uuid(), nullable=False),
        sa.Column("redaction_id", sa.Uuid(), nullable=False),
        sa.Column("reviewed_by", sa.Uuid(), nullable=False),
        sa.Column("reviewed_at", app.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"], ["export_requests.id"], name=op.f("fk_export_redaction_reviews_export_id_export_requests")
        ),
        sa.ForeignKeyConstraint(
            ["redaction_id"], ["redactions.id"], name=op.f("fk_export_redaction_reviews_redaction_id_redactions")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_export_redaction_reviews_reviewed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_redaction_reviews")),
        info={"append_only": True},
    )
    with op.batch_alter_table("export_redaction_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_redaction_reviews_export_id"), ["export_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_export_redaction_reviews_redaction_id"), ["redaction_id"], unique=False)

    op.create_table(
        "export_redaction_pins",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("export_id", sa.Uuid(), nullable=False),
        sa.Column("statement_version_id", sa.Uuid(), nullable=False),
        sa.Column("redaction_id", sa.Uuid(), nullable=False),
        sa.Column("pinned_at", app.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"], ["export_requests.id"], name=op.f("fk_export_redaction_pins_export_id_export_requests")
        ),
        sa.ForeignKeyConstraint(
            ["redaction_id"], ["redactions.id"], name=op.f("fk_export_redaction_pins_redaction_id_redactions")
        ),
        sa.ForeignKeyConstraint(
            ["statement_version_id"],
            ["statement_versions.id"],
            name=op.f("fk_export_redaction_pins_statement_version_id_statement_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_redaction_pins")),
        sa.UniqueConstraint("export_id", "statement_version_id", name=op.f("uq_export_redaction_pins_export_id")),
        info={"append_only": True},
    )
    with op.batch_alter_table("export_redaction_pins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_redaction_pins_export_id"), ["export_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("export_redaction_pins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_redaction_pins_export_id"))
    op.drop_table("export_redaction_pins")
    with op.batch_alter_table("export_redaction_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_redaction_reviews_redaction_id"))
        batch_op.drop_index(batch_op.f("ix_export_redaction_reviews_export_id"))
    op.drop_table("export_redaction_reviews")
