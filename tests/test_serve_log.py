"""`support serve`'s log holds the app's one line per request (route, not path), never
werkzeug's access line with the query string: links in mail carry their token there."""
from __future__ import annotations

import urllib.error
import urllib.request

from .live import ServeCommand, flask_cli


def test_serve_logs_the_route_and_never_the_query_string(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}",
           "SUPPORT_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "serve-log-test-secret",
           "RATELIMIT_ENABLED": "false"}
    flask_cli("init", "--email", "admin@example.com", "--password", "admin-pass-1", env=env)
    with ServeCommand(env) as server:
        secret = "tok3n-in-the-query-5tring"
        with urllib.request.urlopen(f"{server.url}/api/openapi.json?token={secret}") as answer:
            assert answer.status == 200
        try:
            urllib.request.urlopen(f"{server.url}/api/auth/confirm-email?token={secret}")
        except urllib.error.HTTPError:
            pass
        log = server.log()
    assert "GET /api/openapi.json 200" in log  # the app's access line
    assert secret not in log and "HTTP/1.1" not in log
