"""API tokens for scripts: shown once, stored hashed, scoped, expiring and revocable."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import credentials, policy, throttle
from app.access.models import ApiToken
from app.access.principal import Client, Principal
from app.access.schemas import TokenCreate, TokenCreated, TokenRead
from app.audit import service as audit
from app.core.db import db_now, new_id
from app.core.pagination import FIRST_PAGE, Page, PageRequest, keyset

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


def create_token(
    session: Session, runtime: Runtime, principal: Principal, data: TokenCreate, client: Client
) -> TokenCreated:
    policy.require(principal, policy.Action.TOKEN_MANAGE)
    policy.require_browser_session(principal, "making a token")
    now = db_now(session)
    account = f"user|{principal.user_id}"
    cfg = runtime.settings.throttle
    throttle.check(session, runtime, throttle.Kind.TOKEN, account, client.address, now, limit=cfg.tokens_per_hour)
    throttle.count_success(session, runtime, throttle.Kind.TOKEN, account, client.address, now)
    secret = credentials.new_secret(credentials.TOKEN_PREFIX)
    assert principal.user_id is not None
    row = ApiToken(
        id=new_id(),
        token_hash=credentials.secret_hash(secret),
        user_id=principal.user_id,
        name=data.name,
        scope=data.scope,
        created_at=now,
        expires_at=now + timedelta(days=data.expires_in_days),
    )
    session.add(row)
    session.flush()
    audit.touch(session, resource_id=row.id, new_credential=f"token:{row.id}")
    return TokenCreated(**TokenRead.model_validate(row).model_dump(), token=secret)


def list_tokens(session: Session, principal: Principal, page: PageRequest = FIRST_PAGE) -> Page[TokenRead]:
    """One's own tokens, oldest first (ids are time-ordered)."""
    policy.require(principal, policy.Action.TOKEN_MANAGE)
    stmt = select(ApiToken).where(ApiToken.user_id == principal.user_id)
    rows, cursor = keyset(session, stmt, ApiToken.id, page, uuid.UUID, lambda t: t.id)
    return Page[TokenRead](items=[TokenRead.model_validate(r) for r in rows], next_cursor=cursor)


def revoke_token(session: Session, principal: Principal, token_id: uuid.UUID) -> None:
    row = policy.load(session, principal, policy.Action.TOKEN_MANAGE, ApiToken, token_id)
    if row.revoked_at is None:
        row.revoked_at = db_now(session)
