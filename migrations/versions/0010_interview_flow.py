"""interview flow: the checklist's time, interviewers and feedback tasks

Revision ID: 20261130_interview_flow
Revises: 20261130_interviews
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "20261130_interview_flow"
down_revision: str | None = "20261130_interviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checklist_at", app.core.db.UTCDateTime(), nullable=True))
    op.create_table(
        "interview_interviewers",
        sa.Column("interview_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_interview_interviewers_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_interview_interviewers_user_id_users")),
        sa.PrimaryKeyConstraint("interview_id", "user_id", name=op.f("pk_interview_interviewers")),
    )
    with op.batch_alter_table("interview_interviewers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interview_interviewers_user_id"), ["user_id"], unique=False)
    op.create_table(
        "feedback_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("interview_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", app.core.db.UTCDateTime(), nullable=False),
        sa.Column("done_by", sa.Uuid(), nullable=True),
        sa.Column("done_at", app.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_feedback_tasks_case_id_cases")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_feedback_tasks_created_by_users")),
        sa.ForeignKeyConstraint(["done_by"], ["users.id"], name=op.f("fk_feedback_tasks_done_by_users")),
        sa.ForeignKeyConstraint(
            ["interview_id"], ["interviews.id"], name=op.f("fk_feedback_tasks_interview_id_interviews")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_feedback_tasks_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_tasks")),
    )
    with op.batch_alter_table("feedback_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_tasks_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_tasks_interview_id"), ["interview_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feedback_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_tasks_interview_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_tasks_case_id"))
    op.drop_table("feedback_tasks")
    with op.batch_alter_table("interview_interviewers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interview_interviewers_user_id"))
    op.drop_table("interview_interviewers")
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_column("checklist_at")
