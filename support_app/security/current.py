"""The request's authenticated user and Actor, from a bearer token or the dashboard session.

Looked up once per request and cached on `g`; a deactivated user is refused even
with a token that has not expired yet.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, g
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
from flask_jwt_extended import decode_token
from flask_login import current_user as session_user
from sqlalchemy import literal, select, union_all

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
    """API permission names the user's roles hold on the Support view.

    One query returning names only: walking `user.roles[*].permissions` built an ORM
    object for every permission on every view the roles hold (about a hundred for the
    admin role) on each authenticated request.
    """
    roles_of_user = (
        select(literal("role").label("kind"), Role.name.label("name"))
        .join_from(assoc_user_role, Role, Role.id == assoc_user_role.c.role_id)
        .where(assoc_user_role.c.user_id == user.id)
    )
    support_permissions = (
        select(literal("permission").label("kind"), Permission.name.label("name"))
        .select_from(assoc_user_role)
        .join(assoc_permissionview_role,
              assoc_permissionview_role.c.role_id == assoc_user_role.c.role_id)
        .join(PermissionView, PermissionView.id == assoc_permissionview_role.c.permission_view_id)
        .join(ViewMenu, ViewMenu.id == PermissionView.view_menu_id)
        .join(Permission, Permission.id == PermissionView.permission_id)
        .where(assoc_user_role.c.user_id == user.id, ViewMenu.name == roles.SUPPORT_VIEW)
    )
    names: set[str] = set()
    admin_role = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    for kind, name in db.session.execute(union_all(roles_of_user, support_permissions)):
        if kind == "permission":
            names.add(name)
        elif name == admin_role:
            names.update(roles.API_PERMISSIONS)
    return frozenset(names)


def actor_for_user(user: SupportUser) -> Actor:
    """The Actor of a loaded user: its customer record and agent approval in one query,
    its permissions in another."""
    customer_id, customer_locale, approved = db.session.execute(
        select(Customer.id, Customer.locale, AgentProfile.is_approved)
        .select_from(SupportUser)
        .outerjoin(Customer, Customer.user_id == SupportUser.id)
        .outerjoin(AgentProfile, AgentProfile.user_id == SupportUser.id)
        .where(SupportUser.id == user.id)
    ).one()
    return Actor(
        user_id=user.id,
        customer_id=customer_id,
        permissions=permissions_of(user),
        is_approved_agent=bool(approved),
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
    request.environ["support.user_locale"] = user.locale  # read by the locale selector
    refresh_locale()  # anything translated from here on is in the user's language
    g.support_user = user
    g.support_actor = actor
    return actor


def optional_user() -> SupportUser | None:
    """The user of an authenticated request, if one was resolved (used for locale)."""
    return g.get("support_user")
