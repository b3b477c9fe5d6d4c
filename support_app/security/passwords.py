"""The one password rule, used by FAB's forms and by the API's registration."""
from __future__ import annotations

import secrets

from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_babel import gettext as _

MIN_LENGTH = 8


def password_problem(password: str) -> str | None:
    """Return a human-readable rule the password breaks, or None if it is acceptable."""
    if len(password or "") < MIN_LENGTH:
        return _("The password must be at least %(n)d characters.", n=MIN_LENGTH)
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        return _("The password must contain both letters and digits.")
    if len(password) > 128:
        return _("The password may not be greater than 128 characters.")
    return None


def validate_password(password: str) -> None:
    """FAB_PASSWORD_COMPLEXITY_VALIDATOR hook."""
    problem = password_problem(password)
    if problem:
        raise PasswordComplexityValidationError(problem)


def generate_password() -> str:
    """A random password that passes the rule (for logins a command prints once)."""
    return secrets.token_urlsafe(12) + "1a"
