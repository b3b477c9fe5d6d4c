"""One log line per request, and a request id that follows the work the request causes.

The id is the caller's `X-Request-ID` when it is a sane token (a proxy or client
correlating its own logs), else generated here. It is echoed in the response, stamped
on every log record written while the request runs (and while a background job it
queued runs: `bind`), and added to 5xx bodies by the API's error dispatcher.

The line names the URL rule, never the raw path or query string (signed links carry
tokens there), and no header or body: nothing a log reader could replay.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any, Callable, TypeVar

from flask import Flask, Response, g, has_request_context, request
from werkzeug.serving import WSGIRequestHandler

from .metrics import observe_request

HEADER = "X-Request-ID"
_ID_KEY = "support.request_id"
_STARTED_KEY = "support.request_started"
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")  # no spaces, quotes or CR/LF
_job_request_id: ContextVar[str | None] = ContextVar("support_job_request_id", default=None)

access_log = logging.getLogger("support_app.requests")
T = TypeVar("T")


def current_request_id() -> str | None:
    """The id of the request being served, or of the request that queued this job."""
    if has_request_context():
        environ = request.environ
        rid = environ.get(_ID_KEY)
        if rid is None:
            offered = request.headers.get(HEADER, "")
            rid = offered if _SANE_ID.fullmatch(offered) else uuid.uuid4().hex
            environ[_ID_KEY] = rid
        return rid
    return _job_request_id.get()


def bind(job: Callable[[], T]) -> Callable[[], T]:
    """Wrap a job queued for another thread so its log lines carry this request's id."""
    rid = current_request_id()
    if rid is None:
        return job

    def run() -> T:
        token = _job_request_id.set(rid)
        try:
            return job()
        finally:
            _job_request_id.reset(token)

    return run


def route_of() -> str:
    """The URL rule (bounded, no ids or tokens), not the path."""
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def _user_id() -> int | None:
    """Whoever the request already authenticated; never triggers a lookup of its own."""
    actor = request.environ.get("support.actor")  # API (security.current caches it)
    if actor is not None:
        return actor.user_id
    user = g.get("_login_user")  # dashboard session, once Flask-Login loaded it
    return user.id if getattr(user, "is_authenticated", False) else None


class _Timer:
    """WSGI middleware: the clock starts before any Flask hook (the limiter's 429 too)."""

    def __init__(self, wsgi_app: Callable[..., Any]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ[_STARTED_KEY] = time.perf_counter()
        return self.wsgi_app(environ, start_response)


def _finish(response: Response) -> Response:
    rid = current_request_id()
    response.headers[HEADER] = rid
    started = request.environ.get(_STARTED_KEY, time.perf_counter())
    seconds = time.perf_counter() - started
    route, status = route_of(), response.status_code
    fields = {"request_id": rid, "method": request.method, "route": route, "status": status,
              "duration_ms": round(seconds * 1000, 1), "user_id": _user_id()}
    access_log.info("%(method)s %(route)s %(status)s %(duration_ms)sms user=%(user_id)s",
                    fields, extra=fields)
    observe_request(request.method, route, status, seconds)
    return response


# --------------------------------------------------------------------------- output


class RequestIdFilter(logging.Filter):
    """Every record gets `request_id` ("-" outside any request or job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or "-"
        return True


_REQUEST_FIELDS = ("method", "route", "status", "duration_ms", "user_id")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log shippers parse without a grok pattern."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        entry.update({k: getattr(record, k) for k in _REQUEST_FIELDS if hasattr(record, k)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class _Stderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time (servers and test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr


def configure_logging(app: Flask) -> None:
    """The app's loggers at LOG_LEVEL; one stderr handler on the root (text or JSON lines)
    so third-party warnings share the format. Tests keep pytest's handlers instead."""
    logging.getLogger("support_app").setLevel(app.config.get("LOG_LEVEL", "INFO"))
    if app.testing:
        return
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _Stderr)), None)
    if handler is None:
        handler = _Stderr()
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    json_lines = str(app.config.get("LOG_FORMAT", "text")).lower() == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))


def install(app: Flask) -> None:
    configure_logging(app)
    app.wsgi_app = _Timer(app.wsgi_app)  # type: ignore[method-assign]
    app.after_request(_finish)


class RequestHandler(WSGIRequestHandler):
    """`support serve`'s handler: werkzeug's own access line would print the query
    string (confirmation and password-reset tokens); the app's line names the route."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass
