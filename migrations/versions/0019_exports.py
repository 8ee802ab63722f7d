"""exports: requests, approvals, build jobs and the disclosure ledger

Revision ID: 20261201_exports
Revises: 20261201_one_pending_erasure
Create Date: 2026-12-01 03:35:18
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261201_exports"
down_revision: str | None = "20261201_one_pending_erasure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "export_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("case_ids", sa.JSON(), nullable=False),
        sa.Column("person_ids", sa.JSON(), nullable=True),
        sa.Column("interviewed_from", sa.Date(), nullable=True),
        sa.Column("interviewed_to", sa.Date(), nullable=True),
        sa.Column("violation_types", sa.JSON(), nullable=True),
        sa.Column("purpose", sa.String(length=48), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("max_disclosure_level", sa.String(length=32), nullable=False),
        sa.Column("justification", sa.LargeBinary(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("requested_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approvals_needed", sa.Integer(), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("people_count", sa.Integer(), nullable=True),
        sa.Column("excluded_count", sa.Integer(), nullable=True),
        sa.Column("level_counts", sa.JSON(), nullable=True),
        sa.Column("failure", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["recipients.id"], name=op.f("fk_export_requests_recipient_id_recipients")
        ),
        sa.ForeignKeyConstraint(["requester_id"], ["users.id"], name=op.f("fk_export_requests_requester_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_requests")),
    )
    with op.batch_alter_table("export_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_requests_recipient_id"), ["recipient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_export_requests_requester_id"), ["requester_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_export_requests_status"), ["status"], unique=False)

    op.create_table(
        "disclosure_ledger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("export_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("grant_ids", sa.JSON(), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("decided_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_to_proceedings", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"], ["export_requests.id"], name=op.f("fk_disclosure_ledger_export_id_export_requests")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_disclosure_ledger_person_id_people")),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["recipients.id"], name=op.f("fk_disclosure_ledger_recipient_id_recipients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure_ledger")),
        sa.UniqueConstraint("code", name=op.f("uq_disclosure_ledger_code")),
        sa.UniqueConstraint("export_id", "person_id", name=op.f("uq_disclosure_ledger_export_id")),
    )
    with op.batch_alter_table("disclosure_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disclosure_ledger_export_id"), ["export_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_disclosure_ledger_person_id"), ["person_id"], unique=False)

    op.create_table(
        "export_approvals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("export_id", sa.Uuid(), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("decided_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_export_approvals_decided_by_users")),
        sa.ForeignKeyConstraint(
            ["export_id"], ["export_requests.id"], name=op.f("fk_export_approvals_export_id_export_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_approvals")),
        sa.UniqueConstraint("export_id", "decided_by", name=op.f("uq_export_approvals_export_id")),
    )
    with op.batch_alter_table("export_approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_approvals_export_id"), ["export_id"], unique=False)

    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("export_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fencing", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["export_id"], ["export_requests.id"], name=op.f("fk_export_jobs_export_id_export_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
        sa.UniqueConstraint("export_id", name=op.f("uq_export_jobs_export_id")),
    )
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_jobs_lease_expires_at"), ["lease_expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_export_jobs_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_export_jobs_lease_expires_at"))

    op.drop_table("export_jobs")
    with op.batch_alter_table("export_approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_approvals_export_id"))

    op.drop_table("export_approvals")
    with op.batch_alter_table("disclosure_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosure_ledger_person_id"))
        batch_op.drop_index(batch_op.f("ix_disclosure_ledger_export_id"))

    op.drop_table("disclosure_ledger")
    with op.batch_alter_table("export_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_requests_status"))
        batch_op.drop_index(batch_op.f("ix_export_requests_requester_id"))
        batch_op.drop_index(batch_op.f("ix_export_requests_recipient_id"))

    op.drop_table("export_requests")
