"""Counting failed attempts in the database, so limits hold across workers.

Counts are per (account, client address) with a larger per-address budget, so
nobody can lock a custodian out from elsewhere. Keys are HMACs: an attempted
username is never stored.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from app.access.models import AuthFailure
from app.core.db import lock_beyond_work, new_id, on_failure
from app.core.errors import TooManyRequests
from app.crypto.derive import Purpose, keyed_hash

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


class Kind(StrEnum):
    LOGIN = "login"
    SECOND_FACTOR = "second_factor"
    TOKEN = "token"  # noqa: S105 - a name, not a secret


def account_key(runtime: Runtime, account: str) -> str:
    return keyed_hash(runtime.derived_key(Purpose.CLIENT_ADDRESS), f"account|{account}".encode()).hex()


def address_key(runtime: Runtime, address: str) -> str:
    return keyed_hash(runtime.derived_key(Purpose.CLIENT_ADDRESS), f"address|{address}".encode()).hex()


def _retry_after(oldest: datetime | None, window: timedelta, now: datetime) -> int:
    if oldest is None:
        return int(window.total_seconds())
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def check(
    session: Session,
    runtime: Runtime,
    kind: Kind,
    account: str,
    address: str,
    now: datetime,
    *,
    limit: int | None = None,
) -> None:
    """Raise 429 with Retry-After when the (account, address) or the address budget is spent."""
    cfg = runtime.settings.throttle
    window = timedelta(minutes=cfg.window_minutes) if kind is not Kind.TOKEN else timedelta(hours=1)
    since = now - window
    acc, addr = account_key(runtime, account), address_key(runtime, address)
    _serialise(session, addr, acc)
    recent = select(func.count(), func.min(AuthFailure.at)).where(AuthFailure.kind == kind, AuthFailure.at > since)
    pair_count, pair_oldest = session.execute(
        recent.where(AuthFailure.account_key == acc, AuthFailure.address_key == addr)
    ).one()
    pair_limit = limit if limit is not None else cfg.per_account_address
    if pair_count >= pair_limit:
        raise TooManyRequests(_retry_after(pair_oldest, window, now))
    if kind is Kind.TOKEN:
        return
    addr_count, addr_oldest = session.execute(recent.where(AuthFailure.address_key == addr)).one()
    if addr_count >= cfg.per_address:
        raise TooManyRequests(_retry_after(addr_oldest, window, now))


LOCK_CLASS = 0x7E57  # the advisory-lock namespace of throttle keys


def _serialise(session: Session, *keys: str) -> None:
    """Hold per-address and per-account locks until the transaction ends.

    The attempt is counted (on failure, after the work is rolled back to its savepoint)
    before the transaction ends, so the next attempt for the same key waits and then sees
    it: concurrent wrong passwords cannot all pass the check before any is counted. SQLite
    needs nothing: every transaction holds the write lock from BEGIN IMMEDIATE. Keys are
    locked in one order (address, then account), so two attempts cannot deadlock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return

    def take() -> None:
        for key in keys:
            session.execute(
                text("SELECT pg_advisory_xact_lock(CAST(:c AS integer), CAST(:k AS integer))"),
                {"c": LOCK_CLASS, "k": int(key[:8], 16) - 2**31},
            )

    # Before the check, so nothing of the request's own work is released with it but the
    # session's last-seen time, which is not domain state.
    lock_beyond_work(session, take)


def count(session: Session, runtime: Runtime, kind: Kind, account: str, address: str, now: datetime) -> None:
    """Count an attempt in the current transaction (for attempts that succeed, like token creation)."""
    session.add(
        AuthFailure(
            id=new_id(),
            kind=kind,
            account_key=account_key(runtime, account),
            address_key=address_key(runtime, address),
            at=now,
        )
    )


def count_failure(session: Session, runtime: Runtime, kind: Kind, account: str, address: str, now: datetime) -> None:
    """Count a failed attempt; it is kept even though the request's work is rolled back."""
    on_failure(session, lambda s: count(s, runtime, kind, account, address, now))


def prune(session: Session, now: datetime, keep: timedelta = timedelta(days=1)) -> int:
    result = session.execute(delete(AuthFailure).where(AuthFailure.at < now - keep))
    return int(getattr(result, "rowcount", 0) or 0)
