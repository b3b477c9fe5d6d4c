"""FAB security manager: our user model (with a locale); sign-in by email."""
from __future__ import annotations

from flask import Flask, current_app, has_request_context, session
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.manager import BaseSecurityManager
from flask_appbuilder.security.sqla.manager import SecurityManager

from ..models import SupportUser
from . import tokens


class NoSecurityApi(SecurityApi):
    """FAB's token API (`/api/v1/security/login`, `/refresh`) without its routes: its
    login had no rate limit and its tokens bypassed our token lifecycle (versions,
    rotation, revocation). API clients sign in at `/api/auth/login`."""

    include_route_methods: set[str] = set()


class SupportSecurityManager(SecurityManager):
    user_model = SupportUser
    security_api = NoSecurityApi
    # FAB's "User's Statistics" chart loads Google Charts from the internet; the
    # dashboard must work offline, so that screen is not registered.
    userstatschartview = None

    def load_user(self, pk: int):  # type: ignore[override]
        """A dashboard session ends with the user's tokens: it carries the token version
        it signed in under (`tokens.SESSION_VERSION`), and a password change elsewhere,
        a deactivation or a sign-out everywhere moves the user's version on."""
        user = super().load_user(pk)
        if user is not None and has_request_context() and tokens.session_outdated(session, user):
            return None
        return user

    @property
    def auth_rate_limit(self):  # type: ignore[override]
        """Read AUTH_RATE_LIMIT per request, as the API's login does (FAB reads it once,
        when it registers the login view)."""
        return lambda: current_app.config["AUTH_RATE_LIMIT"]

    def create_limiter(self, app: Flask):  # type: ignore[override]
        """AUTH_RATE_LIMITED limits /login/ through the app's one Limiter (same storage,
        same reset, same switch) instead of a second instance FAB would build."""
        from ..extensions import limiter

        return limiter

    def create_db(self) -> None:
        """FAB calls this at start-up; Alembic owns the schema, so nothing happens here.
        `flask support init` calls `ensure_builtin_roles` once the tables exist."""

    def ensure_builtin_roles(self) -> None:
        BaseSecurityManager.create_db(self)

    def auth_user_db(self, username, password):  # type: ignore[override]
        """Everyone signs in with their email address (the FAB username is the email).
        A NUL is no one's address and PostgreSQL refuses it in a query: a failed login."""
        username = (username or "").strip().lower()
        if "\x00" in username:
            return None
        return super().auth_user_db(username, password)
