"""use grants: consent records and their versions, invalidations, withdrawals, erasure requests, and
end-of-interview reconfirmations

Revision ID: 20261130_use_grants
Revises: 20261130_recipients
Create Date: 2026-11-30 23:07:31
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261130_use_grants"
down_revision: str | None = "20261130_recipients"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "use_consents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("chain_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("amends", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("form_version", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("form_digest", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=24), nullable=False),
        sa.Column("obtained_by", sa.Uuid(), nullable=True),
        sa.Column("obtained_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("interview_id", sa.Uuid(), nullable=True),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["amends"], ["use_consents.id"], name=op.f("fk_use_consents_amends_use_consents")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_use_consents_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["interview_id"], ["interviews.id"], name=op.f("fk_use_consents_interview_id_interviews")
        ),
        sa.ForeignKeyConstraint(["obtained_by"], ["users.id"], name=op.f("fk_use_consents_obtained_by_users")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_use_consents_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_use_consents")),
        sa.UniqueConstraint("amends", name=op.f("uq_use_consents_amends")),
        sa.UniqueConstraint("chain_id", "version", name=op.f("uq_use_consents_chain_id")),
        info={"append_only": True},
    )
    with op.batch_alter_table("use_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_use_consents_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_use_consents_chain_id"), ["chain_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_use_consents_person_id"), ["person_id"], unique=False)

    op.create_table(
        "consent_invalidations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consent_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("invalidated_by", sa.Uuid(), nullable=True),
        sa.Column("invalidated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_consent_invalidations_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["use_consents.id"], name=op.f("fk_consent_invalidations_consent_id_use_consents")
        ),
        sa.ForeignKeyConstraint(
            ["invalidated_by"], ["users.id"], name=op.f("fk_consent_invalidations_invalidated_by_users")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_consent_invalidations_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_invalidations")),
        sa.UniqueConstraint("consent_id", name=op.f("uq_consent_invalidations_consent_id")),
        info={"append_only": True},
    )
    with op.batch_alter_table("consent_invalidations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_invalidations_person_id"), ["person_id"], unique=False)

    op.create_table(
        "consent_withdrawals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consent_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("mode", sa.String(length=24), nullable=False),
        sa.Column("received_via", sa.String(length=24), nullable=False),
        sa.Column("withdrawn_by", sa.Uuid(), nullable=True),
        sa.Column("withdrawn_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_consent_withdrawals_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["use_consents.id"], name=op.f("fk_consent_withdrawals_consent_id_use_consents")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_consent_withdrawals_person_id_people")),
        sa.ForeignKeyConstraint(["withdrawn_by"], ["users.id"], name=op.f("fk_consent_withdrawals_withdrawn_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_withdrawals")),
        info={"append_only": True},
    )
    with op.batch_alter_table("consent_withdrawals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_withdrawals_consent_id"), ["consent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_withdrawals_person_id"), ["person_id"], unique=False)

    op.create_table(
        "interview_reconfirmations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("interview_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("interview_state", sa.String(length=32), nullable=False),
        sa.Column("consent_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_interview_reconfirmations_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["use_consents.id"], name=op.f("fk_interview_reconfirmations_consent_id_use_consents")
        ),
        sa.ForeignKeyConstraint(
            ["interview_id"], ["interviews.id"], name=op.f("fk_interview_reconfirmations_interview_id_interviews")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_interview_reconfirmations_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_interview_reconfirmations_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_reconfirmations")),
        info={"append_only": True},
    )
    with op.batch_alter_table("interview_reconfirmations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interview_reconfirmations_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_interview_reconfirmations_interview_id"), ["interview_id"], unique=False)

    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("withdrawal_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("requested_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_erasure_requests_case_id_cases")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_erasure_requests_person_id_people")),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], name=op.f("fk_erasure_requests_requested_by_users")),
        sa.ForeignKeyConstraint(
            ["withdrawal_id"],
            ["consent_withdrawals.id"],
            name=op.f("fk_erasure_requests_withdrawal_id_consent_withdrawals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
        sa.UniqueConstraint("withdrawal_id", name=op.f("uq_erasure_requests_withdrawal_id")),
    )
    with op.batch_alter_table("erasure_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasure_requests_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("erasure_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_requests_person_id"))

    op.drop_table("erasure_requests")
    with op.batch_alter_table("interview_reconfirmations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interview_reconfirmations_interview_id"))
        batch_op.drop_index(batch_op.f("ix_interview_reconfirmations_case_id"))

    op.drop_table("interview_reconfirmations")
    with op.batch_alter_table("consent_withdrawals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_withdrawals_person_id"))
        batch_op.drop_index(batch_op.f("ix_consent_withdrawals_consent_id"))

    op.drop_table("consent_withdrawals")
    with op.batch_alter_table("consent_invalidations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_invalidations_person_id"))

    op.drop_table("consent_invalidations")
    with op.batch_alter_table("use_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_use_consents_person_id"))
        batch_op.drop_index(batch_op.f("ix_use_consents_chain_id"))
        batch_op.drop_index(batch_op.f("ix_use_consents_case_id"))

    op.drop_table("use_consents")
