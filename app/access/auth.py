"""Logging in and out, resolving the principal, second factors and API tokens."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.access import credentials, policy, throttle, totp
from app.access.models import ApiToken, BrowserSession, CaseMember, RecoveryCode, User
from app.access.passwords import check_strength
from app.access.principal import Client, Principal, TokenScope, Via
from app.access.roles import Role
from app.access.schemas import (
    LoginRequest,
    MeRead,
    PasswordChange,
    SecondFactor,
    TokenCreate,
    TokenCreated,
    TotpEnrolment,
)
from app.access.tokens import create_token
from app.audit import service as audit
from app.core.db import Prepared, db_now, db_time, new_id, on_failure
from app.core.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationFailed
from app.crypto import aead
from app.keys import datakeys

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

BAD_CREDENTIALS = "The username, password or code is not right."
SEEN_EVERY = timedelta(minutes=1)
"""How often a session's last-seen time is written; the idle timeout is counted from it."""
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class LoginOutcome:
    me: MeRead
    session_secret: str | None
    """None when the login asked for an API token instead."""
    token: TokenCreated | None


def _totp_required(runtime: Runtime, roles: frozenset[Role]) -> bool:
    return policy.must_enrol_totp(roles, runtime.settings.session.documenter_totp_required)


def _roles(user: User) -> frozenset[Role]:
    return frozenset(Role(r) for r in user.roles)


def _totp_secret(session: Session, runtime: Runtime, user: User) -> str | None:
    if user.totp_secret is None:
        return None
    key = datakeys.service_key(session, runtime.keys)
    return aead.open(
        key, user.totp_secret, table="users", column="totp_secret", row_id=user.id, person_id=None
    ).decode()


def _check_second_factor(session: Session, runtime: Runtime, user: User, factor: SecondFactor, now: datetime) -> bool:
    """Verify a TOTP code (never the same step twice) or spend a recovery code.

    Each is spent by a conditional UPDATE whose row count decides, so of several requests
    sending one code at once exactly one succeeds: the database, not this process, decides.
    """
    if factor.totp:
        secret = _totp_secret(session, runtime, user)
        step = totp.verify(secret, factor.totp, now, user.totp_last_step) if secret else None
        if step is None:
            return False
        spent = session.execute(
            update(User)
            .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if _rows(spent) != 1:
            return False
        set_committed_value(user, "totp_last_step", step)
        return True
    if factor.recovery_code:
        digest = totp.recovery_hash(factor.recovery_code)
        spent = session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == digest, RecoveryCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rows(spent) == 1
    return False


def _rows(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def case_ids_of(session: Session, user_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """The cases whose team the user is on."""
    return frozenset(session.scalars(_CASE_IDS, {"user_id": user_id}))


_CASE_IDS = select(CaseMember.case_id).where(CaseMember.user_id == bindparam("user_id"))


def me(session: Session, runtime: Runtime, principal: Principal, session_secret: str | None = None) -> MeRead:
    policy.require(principal, policy.Action.ME_READ)
    user = session.get(User, principal.user_id)
    if user is None:
        raise NotFound
    audit.touch(session, resource_id=user.id)
    return MeRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=sorted(_roles(user)),
        totp_enabled=user.totp_enabled,
        must_enrol_totp=principal.must_enrol_totp,
        must_change_password=principal.must_change_password,
        case_ids=sorted(principal.case_ids),
        csrf_token=credentials.csrf_token(session_secret) if session_secret else None,
    )


def _new_session(
    session: Session,
    runtime: Runtime,
    user: User,
    now: datetime,
    second_factor_at: datetime | None,
    expires_at: datetime | None = None,
) -> str:
    """A new session row; a rotated session keeps its predecessor's absolute expiry.

    The event of the request that made it names it as its new credential, so an auditor can
    follow a session from its login through every renewal.
    """
    secret = credentials.new_secret(credentials.SESSION_PREFIX)
    session_id = new_id()
    audit.touch(session, new_credential=f"session:{session_id}")
    session.add(
        BrowserSession(
            id=session_id,
            token_hash=credentials.secret_hash(secret),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at or now + timedelta(hours=runtime.settings.session.absolute_hours),
            second_factor_at=second_factor_at,
        )
    )
    session.flush()
    return secret


def login(
    session: Session, runtime: Runtime, data: LoginRequest, client: Client, old_secret: str | None
) -> LoginOutcome:
    """Password (+ second factor when enrolled). Every failure looks the same."""
    now = db_now(session)
    account = data.username.strip().casefold()
    throttle.check(session, runtime, throttle.Kind.LOGIN, account, client.address, now)
    user = session.scalars(select(User).where(User.username == account)).first()
    if user is not None:
        audit.touch(session, resource_id=user.id)  # a failed attempt names the account it targeted
    ok = runtime.passwords.verify(user.password_hash if user else None, data.password)
    second = False
    if ok and user is not None and user.totp_enabled:
        second = _check_second_factor(
            session, runtime, user, SecondFactor(totp=data.totp, recovery_code=data.recovery_code), now
        )
        ok = second
    if not ok or user is None or not user.active:
        throttle.count_failure(session, runtime, throttle.Kind.LOGIN, account, client.address, now)
        raise Unauthenticated(BAD_CREDENTIALS)
    verified = user.password_hash
    user = _hold_account(session, user.id)
    if user.password_hash != verified or not user.active:
        # The password was changed or reset, or the account disabled, while this one was checked.
        raise Unauthenticated(BAD_CREDENTIALS)
    throttle.succeeded(session)
    if runtime.passwords.needs_rehash(user.password_hash):
        user.password_hash = runtime.passwords.hash(data.password)
    if old_secret:  # rotate: the pre-login session id never survives login
        session.execute(delete(BrowserSession).where(BrowserSession.token_hash == credentials.secret_hash(old_secret)))
    _sweep(session, runtime, now)
    principal = _principal_for(session, runtime, user, Via.SESSION, second_factor_at=now if second else None)
    audit.touch(session, resource_id=user.id, actor=principal.actor, actor_roles=tuple(sorted(principal.roles)))
    if data.token:
        # A script asked for a token: it gets that, and no browser session beside it.
        token = create_token(session, runtime, principal, TokenCreate(name="login", scope=TokenScope.WRITE), client)
        return LoginOutcome(me=me(session, runtime, principal), session_secret=None, token=token)
    secret = _new_session(session, runtime, user, now, now if second else None)
    return LoginOutcome(me=me(session, runtime, principal, secret), session_secret=secret, token=None)


def _sweep(session: Session, runtime: Runtime, now: datetime) -> None:
    """Drop dead sessions and old attempt counts; done at login so no separate job is needed."""
    idle = timedelta(minutes=runtime.settings.session.idle_minutes)
    session.execute(
        delete(BrowserSession).where((BrowserSession.expires_at <= now) | (BrowserSession.last_seen_at < now - idle))
    )
    throttle.prune(session, now)


def _principal_for(
    session: Session,
    runtime: Runtime,
    user: User,
    via: Via,
    *,
    session_id: uuid.UUID | None = None,
    token: ApiToken | None = None,
    second_factor_at: datetime | None = None,
    case_ids: frozenset[uuid.UUID] | None = None,
) -> Principal:
    """``case_ids``: the user's cases when the caller read them with the user (else they are read here)."""
    roles = _roles(user)
    return Principal(
        user_id=user.id,
        roles=roles,
        case_ids=case_ids_of(session, user.id) if case_ids is None else case_ids,
        via=via,
        session_id=session_id,
        token_id=token.id if token else None,
        token_scope=TokenScope(token.scope) if token else None,
        second_factor_at=second_factor_at,
        must_enrol_totp=_totp_required(runtime, roles) and not user.totp_enabled,
        must_change_password=user.password_change_required,
    )


_Credential = TypeVar("_Credential", ApiToken, BrowserSession)


def _memberships(sqlite: bool) -> ColumnElement[Any]:
    """The cases whose team the user of the enclosing query is on, as one value: a comma-separated list on
    SQLite, an array on PostgreSQL (None when there is none); ``_case_ids`` reads either."""
    team = CaseMember.user_id == User.id
    if sqlite:
        return select(func.group_concat(CaseMember.case_id, ",")).where(team).scalar_subquery()
    return select(func.array_agg(CaseMember.case_id)).where(team).scalar_subquery()


def _case_ids(value: object) -> frozenset[uuid.UUID]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(uuid.UUID(part) for part in value.split(","))
    assert isinstance(value, list)
    return frozenset(part if isinstance(part, uuid.UUID) else uuid.UUID(str(part)) for part in value)


def _presented_by(model: type[ApiToken] | type[BrowserSession]) -> Prepared[Select[Any]]:
    return Prepared.by_backend(
        lambda clock, sqlite: (
            select(model, User, clock, _memberships(sqlite))
            .outerjoin(User, User.id == model.user_id)
            .where(model.token_hash == bindparam("token_hash"))
        )
    )


_PRESENTED = {ApiToken: _presented_by(ApiToken), BrowserSession: _presented_by(BrowserSession)}


@dataclass(frozen=True)
class _Presented(Generic[_Credential]):
    credential: _Credential | None
    user: User | None
    now: datetime
    case_ids: frozenset[uuid.UUID]


def _presented(session: Session, model: type[_Credential], token_hash: str) -> _Presented[_Credential]:
    """The credential with this hash, its user, the cases whose team the user is on, and the database clock,
    read in one statement (a request pays for each statement it sends)."""
    found = session.execute(_PRESENTED[model](session), {"token_hash": token_hash}).first()
    if found is None:
        return _Presented(None, None, db_now(session), frozenset())
    return _Presented(found[0], found[1], db_time(session, found[2]), _case_ids(found[3]))


def resolve(session: Session, runtime: Runtime, *, bearer: str | None, cookie: str | None, client: Client) -> Principal:
    """The principal behind a bearer token or a session cookie; 401 otherwise."""
    if bearer:
        presented_token = _presented(session, ApiToken, credentials.secret_hash(bearer))
        token, user, now = presented_token.credential, presented_token.user, presented_token.now
        if token is None or user is None or token.revoked_at is not None or token.expires_at <= now or not user.active:
            raise Unauthenticated("The token is not valid.")
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            # Conditional: a token revoked by a request running at the same time no longer counts.
            used = update(ApiToken).where(ApiToken.id == token.id, ApiToken.revoked_at.is_(None))
            if _rows(session.execute(used.values(last_used_at=now).execution_options(synchronize_session=False))) != 1:
                raise Unauthenticated("The token is not valid.")
            set_committed_value(token, "last_used_at", now)
        return _principal_for(session, runtime, user, Via.TOKEN, token=token, case_ids=presented_token.case_ids)
    if cookie:
        presented = _presented(session, BrowserSession, credentials.secret_hash(cookie))
        row, user, now = presented.credential, presented.user, presented.now
        idle = timedelta(minutes=runtime.settings.session.idle_minutes)
        if row is None or user is None or not user.active or row.expires_at <= now or now - row.last_seen_at > idle:
            if row is not None:
                expired_id = row.id
                on_failure(session, lambda s: _drop_session(s, expired_id))
            raise Unauthenticated("Your session has ended. Log in again.")
        if client.method in UNSAFE_METHODS and not credentials.csrf_matches(cookie, client.csrf_header):
            raise Forbidden("missing or wrong X-CSRF-Token header", code="csrf")
        if now - row.last_seen_at > SEEN_EVERY:
            # At most once a minute, so that a session's own requests do not queue on its row.
            # Conditional: a session ended by a request running at the same time (logout, renewal,
            # revocation) is over for this one too, not a stale row to write.
            seen = update(BrowserSession).where(BrowserSession.id == row.id).values(last_seen_at=now)
            if _rows(session.execute(seen.execution_options(synchronize_session=False))) != 1:
                raise Unauthenticated("Your session has ended. Log in again.")
            set_committed_value(row, "last_seen_at", now)
        return _principal_for(
            session,
            runtime,
            user,
            Via.SESSION,
            session_id=row.id,
            second_factor_at=row.second_factor_at,
            case_ids=presented.case_ids,
        )
    raise Unauthenticated


def renewed(session: Session, runtime: Runtime, principal: Principal) -> Principal:
    """The principal as its credential resolves now, in the caller's transaction: for a decision taken again after
    a long transfer outside any transaction (an upload between ``release_work`` and ``resume_work``), which must
    honour a team left, an account disabled or roles changed, and a session or token ended meanwhile, as a new
    request would. 401 when the credential no longer holds.

    The rows are read again (``populate_existing``): those the request resolved at its start stay in the session
    after the release's commit, as they were then."""
    if principal.is_system or principal.user_id is None:
        return principal
    now = db_now(session)
    user = session.get(User, principal.user_id, populate_existing=True)
    if principal.token_id is not None:
        token = session.get(ApiToken, principal.token_id, populate_existing=True)
        if token is None or user is None or token.revoked_at is not None or token.expires_at <= now or not user.active:
            raise Unauthenticated("The token is not valid.")
    if principal.session_id is not None:
        # No idle check: the transfer itself is the session's activity, however long it took. Logout, renewal and
        # revocation delete the row; the absolute expiry still holds.
        row = session.get(BrowserSession, principal.session_id, populate_existing=True)
        if row is None or user is None or not user.active or row.expires_at <= now:
            raise Unauthenticated("Your session has ended. Log in again.")
    if user is None or not user.active:
        raise Unauthenticated
    return replace(
        principal,
        roles=_roles(user),
        case_ids=case_ids_of(session, user.id),
        must_enrol_totp=_totp_required(runtime, _roles(user)) and not user.totp_enabled,
        must_change_password=user.password_change_required,
    )


def presented_credential(session: Session, *, bearer: str | None, cookie: str | None) -> str | None:
    """Which known session or token a request presented, whether or not it was accepted."""
    if bearer:
        token_id = session.scalars(
            select(ApiToken.id).where(ApiToken.token_hash == credentials.secret_hash(bearer))
        ).first()
        return f"token:{token_id}" if token_id else None
    if cookie:
        session_id = session.scalars(
            select(BrowserSession.id).where(BrowserSession.token_hash == credentials.secret_hash(cookie))
        ).first()
        return f"session:{session_id}" if session_id else None
    return None


def _drop_session(session: Session, session_id: uuid.UUID) -> None:
    session.execute(delete(BrowserSession).where(BrowserSession.id == session_id))


def logout(session: Session, principal: Principal) -> None:
    """End the session (or revoke the token) on the server."""
    audit.touch(session, resource_id=principal.session_id or principal.token_id)
    if principal.session_id is not None:
        _drop_session(session, principal.session_id)
    if principal.token_id is not None:
        session.execute(update(ApiToken).where(ApiToken.id == principal.token_id).values(revoked_at=db_now(session)))


def _rotate_session(
    session: Session, runtime: Runtime, principal: Principal, second_factor_at: datetime | None
) -> str | None:
    """A new session secret after a change in what the session proves; the absolute expiry stays."""
    if principal.session_id is None or principal.user_id is None:
        return None
    user = _hold_account(session, principal.user_id)
    old = session.get(BrowserSession, principal.session_id, populate_existing=True)
    if old is None:  # ended meanwhile (logout, revocation): nothing to renew
        raise Unauthenticated("Your session has ended. Log in again.")
    expires_at = old.expires_at
    _drop_session(session, principal.session_id)
    return _new_session(session, runtime, user, db_now(session), second_factor_at, expires_at)


def _current_user(session: Session, principal: Principal) -> User:
    user = session.get(User, principal.user_id) if principal.user_id else None
    if user is None:
        raise NotFound
    audit.touch(session, resource_id=user.id)
    return user


def change_password(
    session: Session, runtime: Runtime, principal: Principal, data: PasswordChange, client: Client
) -> LoginOutcome:
    """Change one's own password; every session and token ends and this one is renewed."""
    policy.require(principal, policy.Action.PASSWORD_CHANGE)
    user = _current_user(session, principal)
    now = db_now(session)
    account = user.username  # the login budget of the account: a stolen session gets no budget of its own
    throttle.check(session, runtime, throttle.Kind.LOGIN, account, client.address, now)
    if not runtime.passwords.verify(user.password_hash, data.current_password):
        throttle.count_failure(session, runtime, throttle.Kind.LOGIN, account, client.address, now)
        raise Forbidden("the current password is not right", code="bad_password")
    throttle.succeeded(session)
    check_strength(data.new_password, "new_password")
    if hmac.compare_digest(data.new_password.encode(), data.current_password.encode()):
        raise ValidationFailed("choose a password different from the current one", fields=["new_password"])
    if user.replaced_password_hash is not None and runtime.passwords.verify(
        user.replaced_password_hash, data.new_password
    ):
        # A match tells whoever holds the one-time password what the owner's password was: each one
        # spends the account's login budget, so the refusal cannot be used to guess it.
        throttle.count_failure(session, runtime, throttle.Kind.LOGIN, account, client.address, now)
        raise ValidationFailed(
            "choose a password different from the one an admin reset replaced", fields=["new_password"]
        )
    user.password_hash = runtime.passwords.hash(data.new_password)
    user.replaced_password_hash = None
    user.password_change_required = False
    user.updated_at = now
    current = session.get(BrowserSession, principal.session_id) if principal.session_id else None
    expires_at = current.expires_at if current else None
    revoke_all(session, user.id)
    secret = _new_session(session, runtime, user, now, principal.second_factor_at, expires_at)
    renewed = _principal_for(session, runtime, user, Via.SESSION, second_factor_at=principal.second_factor_at)
    return LoginOutcome(me=me(session, runtime, renewed, secret), session_secret=secret, token=None)


def _hold_account(session: Session, user_id: uuid.UUID) -> User:
    """Lock the account's row: ending its sessions and making a new one take turns, so a session
    renewed while every session is being ended can never outlive the ending."""
    user = session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None:
        raise Unauthenticated("Your session has ended. Log in again.")
    return user


def revoke_all(session: Session, user_id: uuid.UUID) -> None:
    """End every session and token of an account."""
    _hold_account(session, user_id)
    session.execute(delete(BrowserSession).where(BrowserSession.user_id == user_id))
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=db_now(session))
    )


def start_totp(session: Session, runtime: Runtime, principal: Principal) -> TotpEnrolment:
    """A new secret, sealed under the service key; active only once a code confirms it."""
    policy.require(principal, policy.Action.TOTP_ENROL)
    user = _current_user(session, principal)
    if user.totp_enabled:
        raise Conflict("a second factor is already enrolled; an admin can reset it")
    secret = totp.new_secret()
    key = datakeys.service_key(session, runtime.keys)
    user.totp_secret = aead.seal(
        key, secret.encode(), table="users", column="totp_secret", row_id=user.id, person_id=None
    )
    user.totp_last_step = None
    uri = totp.provisioning_uri(secret, user.username)
    return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))


def confirm_totp(
    session: Session, runtime: Runtime, principal: Principal, code: str, client: Client
) -> tuple[list[str], str | None]:
    """Enable 2FA with a first code; returns fresh recovery codes and the rotated session secret."""
    policy.require(principal, policy.Action.TOTP_ENROL)
    user = _current_user(session, principal)
    now = db_now(session)
    if user.totp_enabled or user.totp_secret is None:
        raise Conflict("start enrolment first (POST /api/v1/me/totp)")
    account = f"user|{user.id}"
    throttle.check(session, runtime, throttle.Kind.SECOND_FACTOR, account, client.address, now)
    if not _check_second_factor(session, runtime, user, SecondFactor(totp=code), now):
        throttle.count_failure(session, runtime, throttle.Kind.SECOND_FACTOR, account, client.address, now)
        raise Forbidden("that code is not right; check the device clock and try the next code", code="bad_code")
    throttle.succeeded(session)
    user.totp_enabled = True
    codes = totp.new_recovery_codes()
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.add_all(RecoveryCode(id=new_id(), user_id=user.id, code_hash=totp.recovery_hash(c)) for c in codes)
    # Every other session and token was opened with the password alone: none becomes a full one.
    current = session.get(BrowserSession, principal.session_id) if principal.session_id else None
    expires_at = current.expires_at if current else None
    revoke_all(session, user.id)
    if principal.session_id is None:
        return codes, None
    return codes, _new_session(session, runtime, user, now, now, expires_at)


def step_up(
    session: Session, runtime: Runtime, principal: Principal, factor: SecondFactor, client: Client
) -> tuple[datetime, str | None]:
    """Prove the second factor again; the session is rotated and marked fresh."""
    policy.require(principal, policy.Action.ME_READ)
    policy.require_browser_session(principal, "a step-up")
    user = _current_user(session, principal)
    audit.touch(session, resource_id=principal.session_id)
    now = db_now(session)
    account = f"user|{user.id}"
    throttle.check(session, runtime, throttle.Kind.SECOND_FACTOR, account, client.address, now)
    if not user.totp_enabled or not _check_second_factor(session, runtime, user, factor, now):
        throttle.count_failure(session, runtime, throttle.Kind.SECOND_FACTOR, account, client.address, now)
        raise Forbidden("that code is not right", code="bad_code")
    throttle.succeeded(session)
    return now, _rotate_session(session, runtime, principal, now)
