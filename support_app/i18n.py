"""Locale choice, through the one Babel instance FAB sets up.

A user's stored locale, else the dashboard session's choice (FAB's language menu),
else Accept-Language, else the default. API requests never touch the session.
"""
from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request, session


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():
        return g.get("forced_locale") or default
    # The actor's locale is the user's own when set (see `security.current`); reading
    # it from the user row instead would reload that row after every commit.
    actor = g.get("support_actor")
    if actor is not None and actor.locale in languages:
        return actor.locale
    if not request.path.startswith("/api/"):
        chosen = session.get("locale")
        if chosen in languages:
            return chosen
    return request.accept_languages.best_match(list(languages)) or default


def install_locale_selector(app: Flask) -> None:
    babel = app.extensions["babel"]
    babel.locale_selector = select_locale
    app.jinja_env.globals["text_direction"] = text_direction


def text_direction(locale: str | None = None) -> str:
    from flask_babel import get_locale

    code = str(locale or get_locale() or "en")
    return "rtl" if code.split("_")[0] in {"ar", "he", "fa", "ur"} else "ltr"
