"""Counting failed attempts in the database, so limits hold across workers.

Counts are per (account, client address) with a larger per-address budget, so
nobody can lock a custodian out from elsewhere. Keys are HMACs: an attempted
username is never stored.
"""

from __future__ import annotations

import ipaddress
import math
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.access.models import AuthFailure
from app.core.config import ThrottleSettings
from app.core.db import new_id, on_failure, side_transaction
from app.core.errors import TooManyRequests
from app.crypto.derive import Purpose, keyed_hash

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type


class Kind(StrEnum):
    LOGIN = "login"
    SECOND_FACTOR = "second_factor"
    TOKEN = "token"  # noqa: S105 - a name, not a secret
    LOOKUP = "consent_lookup"


# Kinds counted per key alone, in an hour: not per client address as well.
KEYED_ONLY = frozenset({Kind.TOKEN, Kind.LOOKUP})


def account_key(runtime: Runtime, account: str) -> str:
    return keyed_hash(runtime.derived_key(Purpose.CLIENT_ADDRESS), f"account|{account}".encode()).hex()


def address_group(address: str) -> str:
    """What one client is, for counting: an IPv4 address, or the /64 network of an IPv6 one,
    since a single IPv6 host usually holds a whole /64 and could rotate through it."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def address_key(runtime: Runtime, address: str) -> str:
    return keyed_hash(runtime.derived_key(Purpose.CLIENT_ADDRESS), f"address|{address_group(address)}".encode()).hex()


def _retry_after(oldest: datetime | None, window: timedelta, now: datetime) -> int:
    if oldest is None:
        return int(window.total_seconds())
    return max(1, math.ceil((oldest + window - now).total_seconds()))


ATTEMPTS = "throttle_attempts"


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


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
    """Count this attempt, then raise 429 with Retry-After when the (account, address) or the
    address budget is spent. A success takes the attempt back with succeeded().

    The count is written before the check it guards. On PostgreSQL the attempt is committed in a
    short transaction of its own first, so of attempts arriving at once each sees those committed
    before it and no more than the limit get through; nothing is locked while a password is checked.
    On SQLite every transaction holds the write lock from BEGIN IMMEDIATE until its failure is
    recorded (the work rolls back to a savepoint, then count_failure() writes), which serialises
    attempts as well.
    """
    cfg = runtime.settings.throttle
    window = timedelta(minutes=cfg.window_minutes) if kind not in KEYED_ONLY else timedelta(hours=1)
    acc, addr = account_key(runtime, account), address_key(runtime, address)
    counted = _is_postgres(session)
    attempt_id = new_id()
    if counted:
        with side_transaction(session) as side:
            side.add(AuthFailure(id=attempt_id, kind=kind, account_key=acc, address_key=addr, at=now))
    try:
        _within_limits(session, cfg, kind, acc, addr, now, window, limit, counted)
    except TooManyRequests:
        if counted:  # a refused attempt does not lengthen the wait
            with side_transaction(session) as side:
                side.execute(delete(AuthFailure).where(AuthFailure.id == attempt_id))
        raise
    if counted:
        session.info.setdefault(ATTEMPTS, []).append(attempt_id)


def _within_limits(
    session: Session,
    cfg: ThrottleSettings,
    kind: Kind,
    acc: str,
    addr: str,
    now: datetime,
    window: timedelta,
    limit: int | None,
    counted: bool,
) -> None:
    own = 1 if counted else 0
    recent = select(func.count(), func.min(AuthFailure.at)).where(
        AuthFailure.kind == kind, AuthFailure.at > now - window
    )
    pair_count, pair_oldest = session.execute(
        recent.where(AuthFailure.account_key == acc, AuthFailure.address_key == addr)
    ).one()
    pair_limit = limit if limit is not None else cfg.per_account_address
    if pair_count - own >= pair_limit:
        raise TooManyRequests(_retry_after(pair_oldest, window, now))
    if kind in KEYED_ONLY:
        return
    addr_count, addr_oldest = session.execute(recent.where(AuthFailure.address_key == addr)).one()
    if addr_count - own >= cfg.per_address:
        raise TooManyRequests(_retry_after(addr_oldest, window, now))


def succeeded(session: Session) -> None:
    """The attempt succeeded: it no longer counts (taken back with the request's work)."""
    attempts: list[uuid.UUID] = session.info.pop(ATTEMPTS, [])
    if attempts:
        session.execute(delete(AuthFailure).where(AuthFailure.id.in_(attempts)))


def _count(session: Session, runtime: Runtime, kind: Kind, account: str, address: str, now: datetime) -> None:
    session.add(
        AuthFailure(
            id=new_id(),
            kind=kind,
            account_key=account_key(runtime, account),
            address_key=address_key(runtime, address),
            at=now,
        )
    )


def count_success(session: Session, runtime: Runtime, kind: Kind, account: str, address: str, now: datetime) -> None:
    """Keep counting an attempt that succeeded (token creation is limited whether or not it works)."""
    if not _is_postgres(session):
        _count(session, runtime, kind, account, address, now)
    session.info.pop(ATTEMPTS, None)


def count_failure(session: Session, runtime: Runtime, kind: Kind, account: str, address: str, now: datetime) -> None:
    """Count a failed attempt; it is kept even though the request's work is rolled back."""
    if not _is_postgres(session):  # on PostgreSQL check() counted it already, in a transaction of its own
        on_failure(session, lambda s: _count(s, runtime, kind, account, address, now))


NO_ADDRESS = "-"
"""Lookups are counted per target and per account, wherever they come from."""


class TargetLocked(TooManyRequests):
    """The record (or person) a lookup names has spent its failures for the hour, whoever asks."""


def check_lookup(session: Session, runtime: Runtime, target: str, account: str, now: datetime) -> None:
    """Count a consent lookup against the record (or person) it names and against the account making it;
    429 when either has spent its failures for the hour (``TargetLocked`` for the record). A success takes the
    attempt back (succeeded())."""
    cfg = runtime.settings.throttle
    # The account first: an account past its limit is refused before anything counts against the record, so one
    # account cannot lock survivors' references by spending their failures with attempts it was refused.
    check(session, runtime, Kind.LOOKUP, f"account|{account}", NO_ADDRESS, now, limit=cfg.lookups_per_account)
    try:
        check(session, runtime, Kind.LOOKUP, f"target|{target}", NO_ADDRESS, now, limit=cfg.lookups_per_target)
    except TooManyRequests as exc:
        _take_back(session)  # refused, so it does not count against the account either
        raise TargetLocked(exc.retry_after) from None


def _take_back(session: Session) -> None:
    """Uncount the attempts this request counted so far (on PostgreSQL each was committed on its own)."""
    attempts: list[uuid.UUID] = session.info.pop(ATTEMPTS, [])
    if attempts:
        with side_transaction(session) as side:
            side.execute(delete(AuthFailure).where(AuthFailure.id.in_(attempts)))


def count_lookup_failure(session: Session, runtime: Runtime, target: str, account: str, now: datetime) -> None:
    count_failure(session, runtime, Kind.LOOKUP, f"target|{target}", NO_ADDRESS, now)
    count_failure(session, runtime, Kind.LOOKUP, f"account|{account}", NO_ADDRESS, now)


def prune(session: Session, now: datetime, keep: timedelta = timedelta(days=1)) -> int:
    result = session.execute(delete(AuthFailure).where(AuthFailure.at < now - keep))
    return int(getattr(result, "rowcount", 0) or 0)
