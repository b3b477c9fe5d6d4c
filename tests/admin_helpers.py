"""Signing in to the dashboard the way a person does: GET /login/, POST the form."""
from __future__ import annotations

import itertools
import os
import re
from html import unescape

from flask import Flask
from flask.testing import FlaskClient

from .factories import PASSWORD

_clients = itertools.count(1)
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    html = client.get("/login/").get_data(as_text=True)
    # Post where the form posts (its action carries `next`), as a browser does.
    action = re.search(r'<form[^>]*action="([^"]*)"[^>]*name="login"', html)
    target = unescape(action.group(1)) if action else "/login/"
    response = client.post(target, data={
        "username": email, "password": password, "csrf_token": csrf_from(html),
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert "/login" not in response.headers["Location"], "login refused"


def page_token(client: FlaskClient, url: str) -> str:
    """The CSRF token of a dashboard page (the session's token)."""
    return csrf_from(client.get(url).get_data(as_text=True))


def desk_client(app: Flask) -> FlaskClient:
    """A test client with an address of its own: login rate limits count per address,
    and parallel workers share them when the limiter stores in Redis."""
    n = next(_clients)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{os.getpid() % 250}.{n // 250 % 250}.{n % 250}"
    return client
