"""downloads and recalls: download counts, copies of stale requests, recall notices, disclosure feedback tasks

Revision ID: 20261201_downloads_recalls
Revises: 20261201_export_bundles
Create Date: 2026-12-01 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261201_downloads_recalls"
down_revision: str | None = "20261201_export_bundles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("export_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("downloads", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("copy_of", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_export_requests_copy_of_export_requests"), "export_requests", ["copy_of"], ["id"]
        )

    op.create_table(
        "recall_notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ledger_id", sa.Uuid(), nullable=False),
        sa.Column("export_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("raised_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_by", sa.Uuid(), nullable=True),
        sa.Column("sent_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("acknowledged_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_recall_notices_acknowledged_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["export_id"], ["export_requests.id"], name=op.f("fk_recall_notices_export_id_export_requests")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_id"], ["disclosure_ledger.id"], name=op.f("fk_recall_notices_ledger_id_disclosure_ledger")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_recall_notices_person_id_people")),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["recipients.id"], name=op.f("fk_recall_notices_recipient_id_recipients")
        ),
        sa.ForeignKeyConstraint(["requester_id"], ["users.id"], name=op.f("fk_recall_notices_requester_id_users")),
        sa.ForeignKeyConstraint(["sent_by"], ["users.id"], name=op.f("fk_recall_notices_sent_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recall_notices")),
        sa.UniqueConstraint("ledger_id", name=op.f("uq_recall_notices_ledger_id")),
    )
    with op.batch_alter_table("recall_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recall_notices_export_id"), ["export_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recall_notices_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recall_notices_requester_id"), ["requester_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recall_notices_state"), ["state"], unique=False)

    op.create_table(
        "disclosure_feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("export_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("recall_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_disclosure_feedback_case_id_cases")),
        sa.ForeignKeyConstraint(["closed_by"], ["users.id"], name=op.f("fk_disclosure_feedback_closed_by_users")),
        sa.ForeignKeyConstraint(
            ["export_id"], ["export_requests.id"], name=op.f("fk_disclosure_feedback_export_id_export_requests")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_disclosure_feedback_owner_id_users")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_disclosure_feedback_person_id_people")),
        sa.ForeignKeyConstraint(
            ["recall_id"], ["recall_notices.id"], name=op.f("fk_disclosure_feedback_recall_id_recall_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure_feedback")),
        sa.UniqueConstraint("export_id", "person_id", "reason", name=op.f("uq_disclosure_feedback_export_id")),
    )
    with op.batch_alter_table("disclosure_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disclosure_feedback_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_disclosure_feedback_export_id"), ["export_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_disclosure_feedback_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_disclosure_feedback_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_disclosure_feedback_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("disclosure_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosure_feedback_state"))
        batch_op.drop_index(batch_op.f("ix_disclosure_feedback_person_id"))
        batch_op.drop_index(batch_op.f("ix_disclosure_feedback_owner_id"))
        batch_op.drop_index(batch_op.f("ix_disclosure_feedback_export_id"))
        batch_op.drop_index(batch_op.f("ix_disclosure_feedback_case_id"))
    op.drop_table("disclosure_feedback")
    with op.batch_alter_table("recall_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recall_notices_state"))
        batch_op.drop_index(batch_op.f("ix_recall_notices_requester_id"))
        batch_op.drop_index(batch_op.f("ix_recall_notices_person_id"))
        batch_op.drop_index(batch_op.f("ix_recall_notices_export_id"))
    op.drop_table("recall_notices")
    with op.batch_alter_table("export_requests", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_export_requests_copy_of_export_requests"), type_="foreignkey")
        batch_op.drop_column("copy_of")
        batch_op.drop_column("downloads")
