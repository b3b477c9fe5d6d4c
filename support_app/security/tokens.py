"""Bearer-token lifecycle: what a token carries, and what ends it before it expires.

Every token names its user's token version (`tv`), its sign-in session (`fam`, one
per login, kept through refreshes) and when the account was made (`ac`): SQLite gives
a new account the id of the newest account deleted before it, and a token of the
deleted account must not sign in as the new one. Three things end tokens early:

- the user's `token_version` moves on (password change, deactivation, sign-out
  everywhere): every older token of that user;
- a session family is revoked (logout, or a refresh token used twice, which means
  a copy is in someone else's hands): every token of that one sign-in;
- a refresh token is used: that one token (refresh rotates; see `consume`).

Revoked ids live in Redis when REDIS_URL is set, else in the `revoked_tokens` table,
each until the moment the token would have expired anyway.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from typing import Any, Iterable, Mapping

from flask import Flask, current_app, has_request_context
from flask import session as flask_session
from flask_jwt_extended import create_access_token, create_refresh_token
from flask_jwt_extended.config import config as jwt_config
from flask_login import user_logged_in
from sqlalchemy import ColumnElement, delete, exists, inspect, select
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import RevokedToken, SupportUser

log = logging.getLogger(__name__)

VERSION_CLAIM = "tv"
SESSION_CLAIM = "fam"
ACCOUNT_CLAIM = "ac"
_REDIS_PREFIX = "support:revoked:"


def issue(user: SupportUser, session_id: str | None = None) -> dict[str, str]:
    """A new access and refresh token for `user`, in sign-in session `session_id`
    (a new session when None: a login)."""
    claims = {VERSION_CLAIM: user.token_version or 0,
              SESSION_CLAIM: session_id or uuid.uuid4().hex,
              ACCOUNT_CLAIM: account_stamp(user.created_on)}
    identity = str(user.id)
    return {
        "access_token": create_access_token(identity=identity, fresh=session_id is None,
                                            additional_claims=claims),
        "refresh_token": create_refresh_token(identity=identity, additional_claims=claims),
    }


def revocation_keys(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The ids under which a token may have been revoked: its own and its session's."""
    return tuple(str(claims[k]) for k in ("jti", SESSION_CLAIM) if claims.get(k))


def account_stamp(created_on: dt.datetime | None) -> str | None:
    """The account's creation instant as the `ac` claim carries it."""
    return created_on.isoformat(timespec="microseconds") if created_on else None


def outdated(claims: Mapping[str, Any], token_version: int,
             created_on: dt.datetime | None) -> bool:
    """Was the token issued before the user's tokens were last ended, or to another
    account that had this id? (A token without `ac` predates the claim.)"""
    return claims.get(VERSION_CLAIM, 0) != token_version or (
        ACCOUNT_CLAIM in claims and claims[ACCOUNT_CLAIM] != account_stamp(created_on))


# --------------------------------------------------------------------------- the store


def _redis(app: Flask) -> Any:
    client = app.extensions.get("support_revocations_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(app.config["REDIS_URL"], socket_timeout=2,
                                      socket_connect_timeout=2)
        app.extensions["support_revocations_redis"] = client
    return client


def in_database() -> bool:
    """True when revocations are kept in the database (no REDIS_URL): the request's one
    identity query then checks them too (see `security.current`)."""
    return not current_app.config.get("REDIS_URL")


def revoke(key: str, expires_at: float) -> bool:
    """Record `key` as revoked until `expires_at` (unix seconds); False if it already was
    (atomically across processes: Redis SET NX, the table's primary key)."""
    expires = int(expires_at) + 1
    if not in_database():
        try:
            return bool(_redis(current_app).set(_REDIS_PREFIX + key, 1, nx=True, exat=expires))
        except Exception:  # noqa: BLE001 - Redis down: serve, as the rate limits do
            log.warning("Redis unavailable: token %s not recorded as revoked", key, exc_info=True)
            return True
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    table = RevokedToken.__table__
    now = int(time.time())
    db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    # RETURNING, not rowcount: an ORM-session INSERT reports rowcount -1 on psycopg, which
    # read as "newly revoked" every time (a reused refresh token was accepted).
    inserted = db.session.execute(
        dialect.insert(table).values(key=key, expires_at=expires).on_conflict_do_nothing()
        .returning(table.c.key)).first()
    return inserted is not None


def revoked_in_redis(keys: Iterable[str]) -> bool:
    """Is any of `keys` revoked in Redis? (The database store is read by the caller's
    own query.) An unreachable Redis revokes nothing: the API keeps serving."""
    names = [_REDIS_PREFIX + key for key in keys]
    if in_database() or not names:
        return False
    try:
        return bool(_redis(current_app).exists(*names))
    except Exception:  # noqa: BLE001
        log.warning("Redis unavailable: token revocations not checked", exc_info=True)
        return False


def revoked_clause(keys: Any, now: Any) -> ColumnElement[bool]:
    """EXISTS: one of `keys` is revoked at `now` in the database store. Also part of the
    request's identity query (`security.current`), so a token check costs no query."""
    table = RevokedToken.__table__
    return exists().where(table.c.key.in_(keys), table.c.expires_at >= now)


def revoked(claims: Mapping[str, Any]) -> bool:
    """Is the token (or its session) revoked, whichever store holds revocations?"""
    keys = revocation_keys(claims)
    if not in_database():
        return revoked_in_redis(keys)
    return bool(keys) and bool(db.session.scalar(select(revoked_clause(list(keys),
                                                                       int(time.time())))))


def consume(claims: Mapping[str, Any]) -> bool:
    """Mark a refresh token used; False if it already was. Kept apart from its
    revocation key so that a second use still reaches the refresh endpoint, which then
    ends the whole session."""
    return revoke(f"used:{claims['jti']}", claims["exp"])


def end_session(session_id: str) -> None:
    """Revoke every token of one sign-in (kept until its last refresh token expires)."""
    revoke(session_id, time.time() + _refresh_lifetime())


def _refresh_lifetime() -> float:
    lifetime = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    return lifetime.total_seconds() if hasattr(lifetime, "total_seconds") else float(lifetime)


def end_all(user: SupportUser) -> None:
    """Sign out everywhere: every token issued to `user` so far stops working."""
    user.token_version = (user.token_version or 0) + 1


# --------------------------------------------------------------------------- dashboard sessions

SESSION_VERSION = "_support_tv"  # the token version a dashboard session signed in under


def session_outdated(cookie_session: Mapping[str, Any], user: SupportUser) -> bool:
    """A Flask-Login session made before the user's last version change (sessions from
    before this key existed are let be: nobody is signed out by an upgrade)."""
    version = cookie_session.get(SESSION_VERSION)
    return version is not None and version != (user.token_version or 0)


def _remember_version(_app: Any, user: SupportUser) -> None:
    flask_session[SESSION_VERSION] = user.token_version or 0


def _own_session_follows(user: SupportUser) -> None:
    """Changing one's own password on the dashboard keeps this session (the others end)."""
    if has_request_context() and flask_session.get("_user_id") == str(user.id) \
            and SESSION_VERSION in flask_session:
        flask_session[SESSION_VERSION] = user.token_version


# --------------------------------------------------------------------------- hooks


def install(app: Flask, session_factory: Any) -> None:
    """A password change or deactivation, by any path (FAB's "reset my password", an
    admin's reset, the user screens, the CLI), ends the user's tokens; and
    flask-jwt-extended refuses revoked tokens wherever it verifies one."""
    jwt_manager = app.appbuilder.sm.jwt_manager
    user_logged_in.connect(_remember_version, app)

    @jwt_manager.token_in_blocklist_loader
    def _blocked(_header: dict, payload: dict) -> bool:
        user = db.session.get(SupportUser, int(payload.get(jwt_config.identity_claim_key) or 0))
        return user is None or outdated(payload, user.token_version, user.created_on) \
            or revoked(payload)

    if getattr(session_factory, "_support_token_versions_installed", False):
        return

    @sa_event.listens_for(session_factory, "before_flush")
    def _bump(session: Session, _context: Any, _instances: Any) -> None:
        for obj in session.dirty:
            if isinstance(obj, SupportUser):
                state = inspect(obj)
                if (state.attrs.password.history.has_changes()
                        or state.attrs.active.history.has_changes()) \
                        and not state.attrs.token_version.history.has_changes():
                    end_all(obj)
                    if obj.active:
                        _own_session_follows(obj)

    session_factory._support_token_versions_installed = True
