"""key rotation from a page: the job table gains a kind, key jobs their own row

Revision ID: 20261201_key_rotation_page
Revises: 20261201_export_fixes
Create Date: 2026-12-01 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261201_key_rotation_page"
down_revision: str | None = "20261201_export_fixes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE_KEY_JOB = "kind = 'keys' AND state IN ('queued', 'running')"


def upgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="export", nullable=False))
        batch_op.alter_column("export_id", existing_type=sa.Uuid(), nullable=True)
    op.create_index(
        "uq_export_jobs_one_key_job",
        "export_jobs",
        ["kind"],
        unique=True,
        sqlite_where=sa.text(ACTIVE_KEY_JOB),
        postgresql_where=sa.text(ACTIVE_KEY_JOB),
    )
    op.create_table(
        "key_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("kek_from", sa.Integer(), nullable=False),
        sa.Column("kek_to", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("unreadable", sa.Integer(), nullable=False),
        sa.Column("retired", sa.String(length=200), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["id"], ["export_jobs.id"], name=op.f("fk_key_jobs_id_export_jobs")),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], name=op.f("fk_key_jobs_requested_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_jobs")),
    )


def downgrade() -> None:
    op.drop_table("key_jobs")
    op.drop_index("uq_export_jobs_one_key_job", table_name="export_jobs")
    op.execute("DELETE FROM export_jobs WHERE kind <> 'export'")
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.alter_column("export_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("kind")
