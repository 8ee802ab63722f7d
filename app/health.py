"""Liveness and database reachability, for load balancers and operators."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app import __version__
from app.audit.unit_of_work import DbSession, UnitOfWorkRoute


class HealthRead(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    version: str


def check(session: Session) -> HealthRead:
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return HealthRead(status="degraded", database="unavailable", version=__version__)
    return HealthRead(status="ok", database="ok", version=__version__)


router = APIRouter(route_class=UnitOfWorkRoute)


@router.get("/api/v1/health", response_model=HealthRead)
def health(session: DbSession, response: Response) -> HealthRead:
    result = check(session)
    if result.status != "ok":
        response.status_code = 503
    return result
