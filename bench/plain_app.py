"""The baseline for the ingest benchmark: a plain FastAPI + SQLAlchemy app that stores the same draft.

One route, the same path and body shape as the service's draft autosave, one table, no session, no
policy, no encryption and no audit: what the request would cost with none of the service's protections.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Integer, String, Uuid
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker


class _Base(DeclarativeBase):
    pass


class PlainDraft(_Base):
    __tablename__ = "plain_drafts"

    interview_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String)


class Answer(BaseModel):
    question: str
    state: str
    text: str | None = None


class DraftWrite(BaseModel):
    text: str
    answers: list[Answer] = []


class DraftSaved(BaseModel):
    revision: int


def make_app(engine: Engine) -> FastAPI:
    """The plain app on `engine`, its table created."""
    _Base.metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    app = FastAPI()

    @app.put("/api/v1/interviews/{interview_id}/draft")
    def save_draft(interview_id: uuid.UUID, body: DraftWrite) -> DraftSaved:
        with factory.begin() as session:
            draft = session.get(PlainDraft, interview_id)
            if draft is None:
                draft = PlainDraft(interview_id=interview_id, revision=0, text="")
                session.add(draft)
            draft.revision += 1
            draft.text = body.text
            return DraftSaved(revision=draft.revision)

    return app
