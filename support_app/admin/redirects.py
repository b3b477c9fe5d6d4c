"""Where a dashboard user goes after an action, a language switch or signing in: back to
the page they came from. FAB returns to the second-last page of its session history
(or the index), so an action pressed on an agent's page landed on the list or the
dashboard; the referrer, checked by FAB's own `is_safe_redirect_url` (same host,
http(s) only), names the page itself."""
from __future__ import annotations

import functools
from typing import Callable

from flask import Flask, current_app, redirect, request, url_for
from flask_appbuilder import AppBuilder
from flask_appbuilder.utils.base import is_safe_redirect_url
from werkzeug.wrappers import Response


def came_from() -> str | None:
    """The referring page of this app, if there is a safe one."""
    referrer = request.referrer
    return referrer if referrer and is_safe_redirect_url(referrer) else None


def back(fallback: Callable[[], str]) -> Response:
    """A redirect to the referring page, else to `fallback()`."""
    return redirect(came_from() or fallback())


def after_login() -> str:
    """The `next` the login form posts: the page asked for, else the page the person
    came from, else the index (FAB logs a missing `next` as an invalid redirect)."""
    index = current_app.appbuilder.get_url_for_index
    asked = request.args.get("next")
    if asked and is_safe_redirect_url(asked):
        return asked
    referrer = came_from()
    if referrer and not referrer.split("?")[0].endswith(url_for(f"{_auth_endpoint()}.login")):
        return referrer
    return index


def _auth_endpoint() -> str:
    return current_app.appbuilder.sm.auth_view.endpoint


def return_after_language_switch(app: Flask, appbuilder: AppBuilder) -> None:
    """FAB's language menu (`/lang/<code>`) returns to its history's previous page,
    which is not the current one for screens that keep no history (the dashboard, the
    ticket forms); it now returns to the page the menu was used on."""
    view = appbuilder.bm.locale_view
    endpoint = f"{view.endpoint}.{view.default_view}"
    switch = app.view_functions[endpoint]

    @functools.wraps(switch)
    def switch_and_return(*args, **kwargs):
        response = switch(*args, **kwargs)
        referrer = came_from()
        return redirect(referrer) if referrer else response

    app.view_functions[endpoint] = switch_and_return
