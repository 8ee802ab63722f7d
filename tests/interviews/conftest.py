"""An app with small attachment limits for tests, and a documenter with an open interview."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from app.core.config import AttachmentSettings, Settings
from app.keys.store import Keys
from app.main import create_app
from tests.support.actors import Actor
from tests.support.attachments import MAX, interview_for
from tests.support.consent import documenter_team


@pytest.fixture
def app(settings: Settings, keys: Keys) -> Iterator[FastAPI]:
    limits = AttachmentSettings(max_bytes=MAX)
    application = create_app(settings.model_copy(update={"attachments": limits}), keys)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def team(app: FastAPI) -> tuple[Actor, uuid.UUID]:
    doc, case_id = documenter_team(app)
    interview_id, _person = interview_for(app, doc, case_id)
    return doc, interview_id
