"""Idempotent set-up of what the database must hold before anyone signs in."""
from __future__ import annotations

from flask import current_app

from .extensions import db
from .security import roles


def sync_permissions() -> None:
    """FAB's built-in roles, every screen's permissions, our roles and API permissions."""
    sm = current_app.appbuilder.sm
    sm.ensure_builtin_roles()
    current_app.appbuilder.add_permissions(update_perms=True)
    roles.seed_roles(sm)
    db.session.commit()


def ensure_admin(email: str | None, password: str | None,
                 name: str = "Admin") -> tuple[str, bool, str | None]:
    """Create the first admin if missing. Returns (email, created, generated password)."""
    from .api.auth import create_user
    from .security.passwords import generate_password

    email = (email or current_app.config.get("ADMIN_EMAIL") or "admin@example.com").lower()
    if current_app.appbuilder.sm.find_user(email=email):
        return email, False, None
    generated = None
    if not password:
        generated = password = generate_password()
    create_user(name, email, password, roles.ADMIN)
    return email, True, generated
