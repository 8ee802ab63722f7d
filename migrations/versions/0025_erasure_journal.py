"""erasure journal: erasure requests carried out or refused by custodians, and tombstones of erased people

Revision ID: 20261201_erasure_journal
Revises: 20261201_erasure_holds
Create Date: 2026-12-01 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261201_erasure_journal"
down_revision: str | None = "20261201_erasure_holds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("erasure_requests", schema=None) as batch_op:
        batch_op.alter_column("withdrawal_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(sa.Column("asked_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("include_linked", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("details", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("decided_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("decided_at", app.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_erasure_requests_asked_by_users"), "users", ["asked_by"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_erasure_requests_decided_by_users"), "users", ["decided_by"], ["id"])
    op.create_table(
        "erased_people",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("erased_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("erasure_id", sa.Uuid(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("confirmed_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["confirmed_by"], ["users.id"], name=op.f("fk_erased_people_confirmed_by_users")),
        sa.ForeignKeyConstraint(
            ["erasure_id"], ["erasure_requests.id"], name=op.f("fk_erased_people_erasure_id_erasure_requests")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_erased_people_person_id_people")),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], name=op.f("fk_erased_people_requested_by_users")),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_erased_people")),
    )


def downgrade() -> None:
    op.drop_table("erased_people")
    # Requests custodians asked for themselves have no withdrawal: they cannot be kept under the old schema.
    op.execute("DELETE FROM erasure_requests WHERE withdrawal_id IS NULL")
    with op.batch_alter_table("erasure_requests", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_erasure_requests_decided_by_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_erasure_requests_asked_by_users"), type_="foreignkey")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("details")
        batch_op.drop_column("include_linked")
        batch_op.drop_column("asked_by")
        batch_op.alter_column("withdrawal_id", existing_type=sa.Uuid(), nullable=False)
