"""Locale choice, through the one Babel instance FAB sets up.

API requests: the authenticated user's stored locale, else Accept-Language, else the
customer record's locale (the actor's), else the default; they never touch the session.
Dashboard pages: the language picked in FAB's menu (this session), else the signed-in
user's stored locale, else Accept-Language, else the default.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_babel import refresh as refresh_locale
from flask_login import current_user, user_logged_in

# marshmallow's Range formats its default message when it is built (too early to
# translate), so range checks pass one of these as `error=`.
RANGE_BETWEEN = _l("Must be between {min} and {max}.")
RANGE_AT_LEAST = _l("Must be at least {min}.")

# How people read the stored spellings (API contracts keep their own spellings).
STATUS_LABELS = {
    "open": _l("Open"),
    "in_progress": _l("In progress"),
    "on_hold": _l("On hold"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
}
# SLA targets and their states (models/sla.py TARGETS, TARGET_STATES).
SLA_TARGET_LABELS = {
    "first_response": _l("First response"),
    "next_response": _l("Next response"),
    "resolution": _l("Resolution"),
}
SLA_STATE_LABELS = {
    "running": _l("On track"),
    "at_risk": _l("At risk"),
    "breached": _l("Breached"),
    "met": _l("Met"),
}
# The product's default name (`APP_NAME`), in the catalogs; a configured name that is
# not in them is a brand and reads the same in every language.
DEFAULT_APP_NAME = _l("Support Desk")


def app_name() -> str:
    """`APP_NAME` as the reader's language spells it (navbar, page titles, emails)."""
    return gettext(str(current_app.config.get("APP_NAME") or DEFAULT_APP_NAME))


PRIORITY_LABELS = {
    "low": _l("Low"),
    "medium": _l("Medium"),
    "high": _l("High"),
    "urgent": _l("Urgent"),
}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():
        return g.get("forced_locale") or default
    # The user's own stored choice, captured at sign-in of this request (a plain string:
    # reading the user row would reload it after every commit). Per request, never `g`.
    stored = request.environ.get("support.user_locale")
    if stored in languages:
        return stored
    if not request.path.startswith("/api/"):
        chosen = session.get("locale")
        if chosen in languages:
            return chosen
        signed_in = getattr(current_user, "locale", None)
        if signed_in in languages:
            return signed_in
    asked = request.accept_languages.best_match(list(languages))
    if asked:
        return asked
    # No choice and no header: the customer record's language (what emails use).
    actor = request.environ.get("support.actor")
    if actor is not None and actor.locale in languages:
        return actor.locale
    return default


def install_locale_selector(app: Flask) -> None:
    babel = app.extensions["babel"]
    babel.locale_selector = select_locale
    app.before_request(refresh_locale)  # Babel caches the locale on `g`, not per request
    app.jinja_env.globals["text_direction"] = text_direction
    app.jinja_env.globals["current_locale"] = current_locale
    app.jinja_env.globals["app_name"] = app_name
    user_logged_in.connect(_start_session_in_users_language, app)


def _start_session_in_users_language(_app: Flask, user: Any = None, **_extra: Any) -> None:
    """A dashboard sign-in starts in the user's stored language, so FAB's language menu
    (which reads the session) shows it; picking another language in the menu wins."""
    stored = getattr(user, "locale", None)
    if stored in current_app.config["LANGUAGES"] and "locale" not in session:
        session["locale"] = stored


def current_locale() -> str:
    """The language of the page being rendered (for <html lang>)."""
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def text_direction(locale: str | None = None) -> str:
    code = str(locale or get_locale() or "en")
    return "rtl" if code.split("_")[0] in {"ar", "he", "fa", "ur"} else "ltr"


def translate_marshmallow_defaults() -> None:
    """Marshmallow's built-in messages ("Missing data for required field.", "Unknown
    field.", "Longer than maximum length 10.") become lazy translations, so every schema
    of every surface answers in the request's language without repeating them per field.

    A field copies its class defaults when it is created (at import of its schema
    module), so this runs when the `support_app` package is imported. Messages with
    placeholders are only swapped where marshmallow formats them at error time (the
    validators); `Range` formats its template at construction, so its users pass
    `error=` themselves (see `RANGE_BETWEEN` / `RANGE_AT_LEAST`).
    """
    from marshmallow import Schema, fields, validate

    field_messages = {
        fields.Field: {"required": _l("Missing data for required field."),
                       "null": _l("Field may not be null."),
                       "validator_failed": _l("Invalid value.")},
        fields.Nested: {"type": _l("Invalid type.")},
        fields.List: {"invalid": _l("Not a valid list.")},
        fields.Tuple: {"invalid": _l("Not a valid tuple.")},
        fields.String: {"invalid": _l("Not a valid string."),
                        "invalid_utf8": _l("Not a valid utf-8 string.")},
        fields.UUID: {"invalid_uuid": _l("Not a valid UUID.")},
        fields.Number: {"invalid": _l("Not a valid number."), "too_large": _l("Number too large.")},
        fields.Integer: {"invalid": _l("Not a valid integer.")},
        fields.Decimal: {"special": _l("Special numeric values (nan or infinity) are not permitted.")},
        fields.Float: {"special": _l("Special numeric values (nan or infinity) are not permitted.")},
        fields.Boolean: {"invalid": _l("Not a valid boolean.")},
        fields.Mapping: {"invalid": _l("Not a valid mapping type.")},
        fields.Url: {"invalid": _l("Not a valid URL.")},
        fields.Email: {"invalid": _l("Not a valid email address.")},
        fields.Date: {"invalid": _l("Not a valid date.")},
        fields.DateTime: {"invalid": _l("Not a valid datetime.")},
    }
    for field_class, messages in field_messages.items():
        field_class.default_error_messages = {**field_class.default_error_messages, **messages}
    Schema._default_error_messages = {"type": _l("Invalid input type."),
                                      "unknown": _l("Unknown field.")}
    validate.Length.message_min = _l("Shorter than minimum length {min}.")
    validate.Length.message_max = _l("Longer than maximum length {max}.")
    validate.Length.message_all = _l("Length must be between {min} and {max}.")
    validate.Length.message_equal = _l("Length must be {equal}.")
    validate.OneOf.default_message = _l("Must be one of: {choices}.")
    validate.Regexp.default_message = _l("String does not match expected pattern.")
    validate.Email.default_message = _l("Not a valid email address.")
    validate.URL.default_message = _l("Not a valid URL.")
