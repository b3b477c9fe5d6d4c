"""The request's authenticated user and Actor, from a bearer token or the dashboard session.

Looked up once per request (one query) and cached in the WSGI environ; a deactivated
user, or a token ended early (see `tokens`), is refused even before it expires.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Mapping

import jwt
from flask import current_app
from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    Role,
    ViewMenu,
    assoc_permissionview_role,
    assoc_user_role,
)
from flask_babel import gettext as _
from flask_babel import refresh as refresh_locale
from flask_jwt_extended.config import config as jwt_config
from flask_login import current_user as session_user
from sqlalchemy import Select, bindparam, literal, select

from .. import database
from ..extensions import db
from ..models import AgentProfile, Customer, SupportUser
from ..tickets.actor import Actor
from ..tickets.errors import Forbidden
from . import roles, tokens


class AuthError(Exception):
    """No usable credentials: surfaces answer 401 in their own format."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@lru_cache(maxsize=4096)
def _verified_claims(token: str, key: str, algorithms: tuple[str, ...],
                     audience: str | tuple[str, ...] | None, issuer: str | None,
                     leeway: float, identity_claim: str,
                     verify_sub: bool) -> MappingProxyType[str, Any]:
    """A token's claims once its signature and claims check out (PyJWT raises if not).

    Cached by the token and every setting it was checked with: a client sends the same
    token on every request until it expires, and the same string signed with the same
    key verifies the same way every time (the HMAC and JSON decode were a twentieth of
    a ticket detail read). Expiry moves with the clock, so `verified_token` checks it
    on every use; the account itself is read fresh on every request."""
    return MappingProxyType(jwt.decode(
        token, key, algorithms=list(algorithms),
        audience=list(audience) if isinstance(audience, tuple) else audience, issuer=issuer,
        leeway=leeway,
        options={"verify_aud": audience is not None, "verify_sub": verify_sub,
                 "require": ["exp", identity_claim]},
    ))


def verified_token(token: str, expected_type: str) -> tuple[int, Mapping[str, Any]]:
    """The user id a JWT names and its claims, once verified with Flask-JWT-Extended's
    settings (key, algorithms, audience, issuer, leeway, identity claim) and its type
    checked; raise AuthError with a clear reason. Whether it was revoked is the
    caller's to check (with the user's row: `tokens.outdated`, `tokens.revoked`).

    One verified decode: the library's own `decode_token` first decodes every token a
    second time, unverified, for key callbacks this app does not register."""
    audience = jwt_config.decode_audience
    leeway = jwt_config.leeway
    if isinstance(leeway, dt.timedelta):
        leeway = leeway.total_seconds()
    try:
        claims = _verified_claims(
            token, jwt_config.decode_key, tuple(jwt_config.decode_algorithms),
            tuple(audience) if isinstance(audience, (list, tuple, set)) else audience,
            jwt_config.decode_issuer, leeway, jwt_config.identity_claim_key,
            jwt_config.verify_sub)
        if claims["exp"] + leeway <= time.time():  # PyJWT's own rule: dead at exp + leeway
            raise jwt.ExpiredSignatureError("Signature has expired")
    except jwt.ExpiredSignatureError as exc:
        raise AuthError(_("Token has expired")) from exc
    except jwt.PyJWTError as exc:  # bad signature, malformed, missing claims
        raise AuthError(_("Invalid token")) from exc
    if claims.get("type", "access") != expected_type:
        raise AuthError(_("Invalid token type"))
    try:
        return int(claims[jwt_config.identity_claim_key]), claims
    except (TypeError, ValueError) as exc:  # every token we issue names a numeric id
        raise AuthError(_("Invalid token")) from exc


def user_from_token(token: str, *, expected_type: str = "access"
                    ) -> tuple[SupportUser, Mapping[str, Any]]:
    """The active user a live token names, and its claims (refresh, socket connect),
    or AuthError."""
    user_id, claims = verified_token(token, expected_type)
    user = db.session.get(SupportUser, user_id)
    if user is None or not user.active:
        raise AuthError(_("User is inactive or does not exist"))
    if tokens.outdated(claims, user.token_version, user.created_on) or tokens.revoked(claims):
        raise AuthError(_("Token has been revoked"))
    return user, claims


@dataclass(frozen=True)
class Identity:
    """What one query knows of a user: enough to build the Actor and pick the locale."""

    actor: Actor
    active: bool
    user_locale: str | None
    token_version: int
    created_on: dt.datetime | None  # the account's, for the token's `ac` claim
    revoked: bool  # one of the token's revocation keys is in the database store


@lru_cache(maxsize=2)
def _identity_statement(with_revocations: bool) -> Select:
    """Built once: the user, their customer record, agent approval, role names and the
    roles' API permissions on the Support view, one row per (role, permission); with
    `with_revocations`, whether one of the `token_keys` is revoked in the database
    store (so checking a token costs no second query).

    This runs on every authenticated request; as one Core statement it costs one round
    trip and no ORM objects (it replaced three ORM queries, half of a detail read).
    """
    user = SupportUser.__table__
    customer = Customer.__table__
    agent = AgentProfile.__table__
    role = Role.__table__
    support_permission = (
        select(assoc_permissionview_role.c.role_id, Permission.__table__.c.name)
        .join(PermissionView.__table__,
              PermissionView.__table__.c.id == assoc_permissionview_role.c.permission_view_id)
        .join(ViewMenu.__table__, ViewMenu.__table__.c.id == PermissionView.__table__.c.view_menu_id)
        .join(Permission.__table__,
              Permission.__table__.c.id == PermissionView.__table__.c.permission_id)
        .where(ViewMenu.__table__.c.name == roles.SUPPORT_VIEW)
        .subquery()
    )
    is_revoked = tokens.revoked_clause(bindparam("token_keys", expanding=True), bindparam("now")
                                       ) if with_revocations else literal(False)
    return (
        select(user.c.active, user.c.first_name, user.c.last_name, user.c.locale,
               customer.c.id, customer.c.locale, agent.c.is_approved, user.c.token_version,
               user.c.created_on, is_revoked.label("revoked"), role.c.name,
               support_permission.c.name)
        .select_from(user)
        .outerjoin(customer, customer.c.user_id == user.c.id)
        .outerjoin(agent, agent.c.user_id == user.c.id)
        .outerjoin(assoc_user_role, assoc_user_role.c.user_id == user.c.id)
        .outerjoin(role, role.c.id == assoc_user_role.c.role_id)
        .outerjoin(support_permission, support_permission.c.role_id == assoc_user_role.c.role_id)
        .where(user.c.id == bindparam("user_id"))
    )


def identity_of(user_id: int, token_keys: tuple[str, ...] = ()) -> Identity | None:
    """The user's Identity, or None if there is no such user; `revoked` tells whether
    one of `token_keys` is revoked (database store; Redis is the caller's to ask)."""
    with_revocations = bool(token_keys) and tokens.in_database()
    params: dict[str, Any] = {"user_id": user_id}
    if with_revocations:
        params.update(token_keys=list(token_keys), now=int(time.time()))
    rows = database.execute_core(_identity_statement(with_revocations), params).all()
    if not rows:
        return None
    (active, first, last, user_locale, customer_id, customer_locale, approved,
     token_version, created_on, revoked) = rows[0][:10]
    admin_role = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    permissions: set[str] = set()
    for row in rows:
        role_name, permission = row[10], row[11]
        if role_name == admin_role:
            permissions.update(roles.API_PERMISSIONS)
        if permission is not None:
            permissions.add(permission)
    actor = Actor(
        user_id=user_id,
        customer_id=customer_id,
        permissions=frozenset(permissions),
        is_approved_agent=bool(approved),
        name=" ".join(p for p in (first, last) if p).strip(),
        locale=user_locale or customer_locale or current_app.config["BABEL_DEFAULT_LOCALE"],
    )
    return Identity(actor, bool(active), user_locale, token_version or 0, created_on,
                    bool(revoked))


def actor_for_user(user: SupportUser) -> Actor:
    """The Actor of a loaded user (dashboard session, socket, inbound mail, pushes)."""
    identity = identity_of(user.id)
    assert identity is not None, "a loaded user has a row"
    return identity.actor


def _session_proves_dashboard() -> None:
    """A change made with the dashboard's session cookie carries that session's CSRF
    token (`X-CSRFToken`): a browser sends the cookie on requests other pages make too,
    a bearer token it never sends by itself. One rule for every API route that takes
    the session (Forbidden in the route's own error format); which methods are changes
    is Flask-WTF's `WTF_CSRF_METHODS`, so reads pass without the token."""
    from flask_wtf.csrf import CSRFError

    from ..extensions import csrf
    try:
        csrf.protect()
    except CSRFError as err:
        raise Forbidden(_("The CSRF token is missing or invalid.")) from err


def _resolve(header: str | None, allow_session: bool) -> Identity:
    token = bearer_token(header)
    claims: Mapping[str, Any] | None = None
    if token:
        user_id, claims = verified_token(token, "access")
    elif allow_session and session_user and getattr(session_user, "is_authenticated", False):
        _session_proves_dashboard()
        user_id = session_user.id
    elif header:
        raise AuthError(_("Invalid authorization header"))
    else:
        raise AuthError(_("Unauthenticated"))
    keys = tokens.revocation_keys(claims) if claims is not None else ()
    identity = identity_of(user_id, keys)
    if identity is None or not identity.active:
        raise AuthError(_("User is inactive or does not exist"))
    if claims is not None and (identity.revoked or tokens.outdated(claims, identity.token_version,
                                                                   identity.created_on)
                               or tokens.revoked_in_redis(keys)):
        raise AuthError(_("Token has been revoked"))
    return identity


def require_actor(*, allow_session: bool = False) -> Actor:
    """The authenticated Actor for this request (cached), or AuthError; with
    `allow_session`, the dashboard's session cookie too (a change then needs its CSRF
    token: `_session_proves_dashboard`)."""
    from flask import request

    # Cached per request, not per app context: a test client reuses the test's
    # app context (and its `g`) for every request it makes.
    cached: Any = request.environ.get("support.actor")
    if cached is not None:
        return cached
    identity = _resolve(request.headers.get("Authorization"), allow_session)
    request.environ["support.actor"] = identity.actor
    request.environ["support.user_locale"] = identity.user_locale  # for the locale selector
    refresh_locale()  # anything translated from here on is in the user's language
    return identity.actor
