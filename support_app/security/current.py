"""The request's authenticated user and Actor, from a bearer token or the dashboard session.

Looked up once per request and cached on `g`; a deactivated user is refused even
with a token that has not expired yet.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask_babel import gettext as _
from flask_babel import refresh as refresh_locale
from flask_jwt_extended import decode_token
from flask_login import current_user as session_user
from sqlalchemy import select

from ..extensions import db
from ..models import AgentProfile, Customer, SupportUser
from ..tickets.actor import Actor
from . import roles


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


def user_from_token(token: str, *, expected_type: str = "access") -> SupportUser:
    """Decode and check a JWT; raise AuthError with a clear reason."""
    try:
        claims = decode_token(token)
    except Exception as exc:  # expired, bad signature, malformed: all are 401
        name = type(exc).__name__
        raise AuthError(_("Token has expired") if "Expired" in name else _("Invalid token")) from exc
    if claims.get("type") != expected_type:
        raise AuthError(_("Invalid token type"))
    user = db.session.get(SupportUser, int(claims["sub"]))
    if user is None or not user.active:
        raise AuthError(_("User is inactive or does not exist"))
    return user


def permissions_of(user: SupportUser) -> frozenset[str]:
    """API permission names the user's roles hold on the Support view."""
    names: set[str] = set()
    for role in user.roles:
        for pv in role.permissions:
            if pv.view_menu and pv.view_menu.name == roles.SUPPORT_VIEW:
                names.add(pv.permission.name)
    if any(role.name == current_app.config.get("AUTH_ROLE_ADMIN", "Admin") for role in user.roles):
        names.update(roles.API_PERMISSIONS)
    return frozenset(names)


def actor_for_user(user: SupportUser) -> Actor:
    customer_id = db.session.scalar(select(Customer.id).where(Customer.user_id == user.id))
    approved = bool(
        db.session.scalar(
            select(AgentProfile.is_approved).where(AgentProfile.user_id == user.id)
        )
    )
    customer_locale = None
    if user.locale is None and customer_id is not None:
        customer_locale = db.session.scalar(select(Customer.locale).where(Customer.id == customer_id))
    return Actor(
        user_id=user.id,
        customer_id=customer_id,
        permissions=permissions_of(user),
        is_approved_agent=approved,
        name=user.name,
        locale=user.locale or customer_locale or current_app.config["BABEL_DEFAULT_LOCALE"],
    )


def _resolve(header: str | None, allow_session: bool) -> tuple[SupportUser, Actor]:
    token = bearer_token(header)
    if token:
        user = user_from_token(token)
    elif allow_session and session_user and getattr(session_user, "is_authenticated", False):
        user = db.session.get(SupportUser, session_user.id)
        if user is None or not user.active:
            raise AuthError(_("User is inactive or does not exist"))
    elif header:
        raise AuthError(_("Invalid authorization header"))
    else:
        raise AuthError(_("Unauthenticated"))
    return user, actor_for_user(user)


def require_actor(*, allow_session: bool = False) -> Actor:
    """The authenticated Actor for this request (cached), or AuthError."""
    from flask import request

    # Cached per request, not per app context: a test client reuses the test's
    # app context (and its `g`) for every request it makes.
    cached: Any = request.environ.get("support.actor")
    if cached is not None:
        return cached
    user, actor = _resolve(request.headers.get("Authorization"), allow_session)
    request.environ["support.actor"] = actor
    request.environ["support.user"] = user  # the locale selector reads this request's user
    refresh_locale()  # anything translated from here on is in the user's language
    g.support_user = user
    g.support_actor = actor
    return actor


def optional_user() -> SupportUser | None:
    """The user of an authenticated request, if one was resolved (used for locale)."""
    return g.get("support_user")
