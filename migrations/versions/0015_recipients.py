"""the recipient registry and the deny-list's versions

Revision ID: 20261130_recipients
Revises: 20261130_password_history
Create Date: 2026-11-30 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261130_recipients"
down_revision: str | None = "20261130_password_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recipients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recipient_class", sa.String(length=48), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("age_recipient", sa.String(length=100), nullable=True),
        sa.Column("recall_contact", sa.String(length=1000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_recipients_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipients")),
    )
    with op.batch_alter_table("recipients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recipients_recipient_class"), ["recipient_class"], unique=False)

    op.create_table(
        "deny_list_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recipient_ids", sa.JSON(), nullable=False),
        sa.Column("jurisdictions", sa.JSON(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("confirmation_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["confirmation_id"], ["confirmations.id"], name=op.f("fk_deny_list_versions_confirmation_id_confirmations")
        ),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], name=op.f("fk_deny_list_versions_requested_by_users")),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_deny_list_versions")),
    )


def downgrade() -> None:
    op.drop_table("deny_list_versions")
    with op.batch_alter_table("recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipients_recipient_class"))

    op.drop_table("recipients")
