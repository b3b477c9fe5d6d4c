"""Idempotent set-up of what the database must hold before anyone signs in."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from .extensions import db
from .security import roles


def sync_permissions() -> None:
    """FAB's built-in roles, every screen's permissions, our roles and API permissions."""
    sm = current_app.appbuilder.sm
    sm.ensure_builtin_roles()
    current_app.appbuilder.add_permissions(update_perms=True)
    roles.seed_roles(sm)
    db.session.commit()


# What `support init` ships when there is no SLA data yet (all editable afterwards):
# office hours in UTC, since the desk cannot guess its zone, and one catch-all policy.
DEFAULT_CALENDAR = {
    "name": "Office hours",
    "time_zone": "UTC",
    "hours": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": [],
}
DEFAULT_POLICY = {
    "name": "Default",
    "position": 1000,
    "first_response_minutes": 4 * 60,
    "next_response_minutes": 8 * 60,
    "resolution_minutes": 5 * 8 * 60,
    "at_risk_percent": 80,
}


def ensure_sla_defaults() -> None:
    """A default calendar when none is marked default, a catch-all policy when there is
    no policy at all; never touches what an admin has edited."""
    from .models import SlaCalendar, SlaPolicy

    if db.session.scalar(select(SlaCalendar.id).where(SlaCalendar.is_default)) is None:
        existing = db.session.scalar(
            select(SlaCalendar).where(SlaCalendar.name == DEFAULT_CALENDAR["name"]))
        if existing is not None:
            existing.is_default = True
        else:
            db.session.add(SlaCalendar(is_default=True, **DEFAULT_CALENDAR))
    if db.session.scalar(select(SlaPolicy.id).limit(1)) is None:
        db.session.add(SlaPolicy(**DEFAULT_POLICY))
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
